package io.isola.vmm.hypervisor;

import java.io.IOException;

/**
 * A way to run sandbox VMs. One implementation drives QEMU directly over QMP; a libvirt one
 * fits the same shape (define + start a domain, reach the same sockets).
 */
public interface Hypervisor {
  /** Starts the VM; returns once the hypervisor runs and its control channel answers. */
  Vm launch(VmSpec spec) throws IOException;

  /**
   * Takes over a VM started by an earlier supervisor process, whose hypervisor process is
   * {@code pid} (the caller has verified it is that process).
   */
  Vm adopt(VmSpec spec, long pid) throws IOException;

  /** A one-line description for diagnostics, e.g. "QEMU 7.2.19 (TCG)". */
  String describe();
}
