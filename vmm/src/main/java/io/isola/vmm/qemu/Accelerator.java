package io.isola.vmm.qemu;

/** How QEMU executes guest code. */
public enum Accelerator {
  /** Hardware virtualisation; only used when a probe boot proved it works on this host. */
  KVM("kvm"),
  /** Software emulation (QEMU's tiny code generator): slow, but works everywhere. */
  TCG("tcg");

  private final String qemuName;

  Accelerator(String qemuName) {
    this.qemuName = qemuName;
  }

  public String qemuName() {
    return qemuName;
  }
}
