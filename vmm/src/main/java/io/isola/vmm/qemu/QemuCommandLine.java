package io.isola.vmm.qemu;

import io.isola.vmm.hypervisor.VmSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * Builds the QEMU argv for a sandbox VM. Everything QEMU gets is spelled out here, so that what
 * a sandbox can reach is visible in one place: no default devices, one virtio-serial port for
 * the agent, one virtio-9p device per share, one virtio-net device per NIC the spec asks for
 * (none by default), a serial console to a file.
 */
public final class QemuCommandLine {
  /**
   * The TCG translation cache, in MiB. QEMU's default lets it grow to 1 GiB per VM, so a guest
   * running much code could inflate its QEMU's host memory; an idle sandbox uses about 40 MiB.
   * 32 MiB bounds it with no measurable boot cost (measured: wall to agent ready within noise of
   * the default; 16 MiB was slower).
   */
  static final int TCG_CODE_CACHE_MIB = 32;

  /** The name of the virtio-serial port the agent looks for in the guest. */
  public static final String AGENT_PORT_NAME = "isola.agent";
  /** The benchmark's raw channel (VmSpec.benchPort). */
  public static final String BENCH_PORT_NAME = "isola.bench";

  private final Path qemuBinary;
  private final Accelerator accelerator;
  private final OptionalLong hostTscKhz;

  public QemuCommandLine(Path qemuBinary, Accelerator accelerator) {
    this(qemuBinary, accelerator, HostTsc.khz());
  }

  QemuCommandLine(Path qemuBinary, Accelerator accelerator, OptionalLong hostTscKhz) {
    this.qemuBinary = qemuBinary;
    this.accelerator = accelerator;
    this.hostTscKhz = hostTscKhz;
  }

  /**
   * microvm (no PCI, no firmware, virtio-mmio) boots fastest, but under TCG only when the guest
   * is told the TSC rate; without that knowledge q35 with PCI devices is the safe choice.
   */
  private boolean microvm() {
    return accelerator == Accelerator.KVM || hostTscKhz.isPresent();
  }

  private String kernelArgs(VmSpec spec) {
    if (accelerator == Accelerator.KVM) {
      return spec.kernelArgs();
    }
    // Under TCG the clocksource watchdog misjudges the TSC as unstable and falls back to jiffies.
    String args = spec.kernelArgs() + " tsc=reliable no_timer_check";
    return hostTscKhz.isPresent() ? args + " tsc_early_khz=" + hostTscKhz.getAsLong() : args;
  }

  public List<String> build(VmSpec spec) {
    List<String> argv = boot(spec.kernel(), spec.initrd(), kernelArgs(spec), spec.vcpus(), spec.memoryMib());
    add(argv, "-name", "isola-" + spec.name() + ",debug-threads=on");
    add(argv, "-serial", "file:" + escape(spec.consoleLog()));
    add(argv, "-qmp", "unix:" + escape(spec.controlSocket()) + ",server=on,wait=off");
    add(argv, "-chardev", "socket,id=agent,path=" + escape(spec.agentSocket()) + ",server=on,wait=off");
    String bus = microvm() ? "device" : "pci";
    // port 0 is reserved for a console; the agent's is 1, the benchmark's (if any) 2
    add(argv, "-device", "virtio-serial-" + bus + ",max_ports=" + (spec.benchPort() ? 3 : 2));
    add(argv, "-device", "virtserialport,chardev=agent,name=" + AGENT_PORT_NAME);
    if (spec.benchPort()) {
      add(argv, "-chardev", "socket,id=bench,path=" + escape(spec.benchSocket()) + ",server=on,wait=off");
      add(argv, "-device", "virtserialport,chardev=bench,name=" + BENCH_PORT_NAME);
    }
    int index = 0;
    for (VmSpec.Share share : spec.shares()) {
      String id = "fs" + index++;
      // mapped-xattr: guest ownership and modes live in xattrs, so the guest can never create a
      // set-uid file or a device node that the host would honour. "none" shows host attributes
      // and symlinks as they are; VmSpec allows it only read-only, so nothing can be created.
      String model = share.hostAttributes() ? "none" : "mapped-xattr";
      add(argv, "-fsdev", "local,id=" + id + ",path=" + escape(share.hostPath())
          + ",security_model=" + model + ",multidevs=remap" + (share.readOnly() ? ",readonly=on" : ""));
      add(argv, "-device", "virtio-9p-" + bus + ",fsdev=" + id + ",mount_tag=" + share.tag());
    }
    index = 0;
    for (VmSpec.Nic nic : spec.nics()) {
      String id = "net" + index++;
      add(argv, "-netdev", netdev(id, nic));
      add(argv, "-device", "virtio-net-" + bus + ",netdev=" + id + ",mac=" + nic.mac());
    }
    // QEMU's own seccomp filter: no obsolete syscalls, no setuid, no fork/exec, no resource games.
    add(argv, "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
    add(argv, "-pidfile", spec.runDirectory().resolve("qemu.pid").toString());
    return argv;
  }

  /**
   * The machine and the guest to boot, with no devices: what every VM of this command line
   * starts from, and all the KVM probe needs (so the probe boots the machine sandboxes use).
   */
  public List<String> boot(Path kernel, Path initrd, String kernelArgs, int vcpus, int memoryMib) {
    List<String> argv = new ArrayList<>();
    argv.add(qemuBinary.toString());
    argv.add("-nodefaults");
    argv.add("-no-user-config");
    argv.add("-nographic");
    argv.add("-no-reboot"); // a guest reboot ends the VM: the agent powers off, never reboots
    add(argv, "-machine", microvm() ? "microvm,rtc=on" : "q35,sata=off,smbus=off,i8042=off,vmport=off");
    add(argv, "-accel", accelerator == Accelerator.KVM ? "kvm" : "tcg,thread=multi,tb-size=" + TCG_CODE_CACHE_MIB);
    add(argv, "-cpu", accelerator == Accelerator.KVM ? "host" : "max");
    add(argv, "-smp", Integer.toString(vcpus));
    add(argv, "-m", memoryMib + "M");
    add(argv, "-kernel", kernel.toString());
    add(argv, "-initrd", initrd.toString());
    add(argv, "-append", kernelArgs);
    return argv;
  }

  /**
   * The host side of a NIC. user: QEMU's own NAT (slirp), with host port forwards; the guest may
   * open connections out, nothing comes in but the forwards. tap: a device made beforehand in
   * the VM's network namespace; no helper scripts, no vhost.
   */
  static String netdev(String id, VmSpec.Nic nic) {
    if (nic instanceof VmSpec.UserNic user) {
      StringBuilder b = new StringBuilder("user,id=").append(id).append(",net=").append(user.network())
          .append(",host=").append(user.host()).append(",dns=").append(user.dns())
          .append(",ipv6=off");
      for (VmSpec.PortForward f : user.forwards()) {
        b.append(",hostfwd=").append(f.protocol()).append(':').append(f.hostIp()).append(':')
            .append(f.hostPort()).append('-').append(user.guest()).append(':').append(f.guestPort());
      }
      return b.toString();
    }
    VmSpec.TapNic tap = (VmSpec.TapNic) nic;
    return "tap,id=" + id + ",ifname=" + tap.tapName() + ",script=no,downscript=no,vhost=off";
  }

  private static void add(List<String> argv, String option, String value) {
    argv.add(option);
    argv.add(value);
  }

  /** QEMU option values separate keys with commas; a literal comma is written twice. */
  static String escape(Path path) {
    return path.toString().replace(",", ",,");
  }
}
