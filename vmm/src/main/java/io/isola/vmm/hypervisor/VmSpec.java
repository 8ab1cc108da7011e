package io.isola.vmm.hypervisor;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * What a sandbox VM is made of, in hypervisor-neutral terms. Backends (QEMU over QMP, later
 * libvirt) turn this into their own configuration; nothing here names a QEMU flag.
 *
 * @param name a short name for logs and process titles (already validated)
 * @param kernel an uncompressed vmlinux booted directly (PVH entry)
 * @param initrd the base image's initramfs
 * @param kernelArgs the guest kernel command line
 * @param vcpus virtual CPUs, at least 1
 * @param memoryMib guest memory
 * @param shares host directories exported to the guest over virtio-9p
 * @param runDirectory a directory only this VM uses: sockets, console log, pid file
 * @param nics network devices (none: the guest has only loopback)
 * @param networkNamespace the host network namespace (a path under /proc or /run/netns) the VM
 *     runs in, so that its taps are that namespace's; null = the caller's
 * @param benchPort a second virtio-serial port, "isola.bench" at {@link #benchSocket()}, for the
 *     benchmark's raw channel baseline; never on a sandbox's VM
 */
public record VmSpec(String name, Path kernel, Path initrd, String kernelArgs, int vcpus,
    int memoryMib, List<Share> shares, Path runDirectory, List<Nic> nics, Path networkNamespace,
    boolean benchPort) {

  public VmSpec(String name, Path kernel, Path initrd, String kernelArgs, int vcpus, int memoryMib,
      List<Share> shares, Path runDirectory, List<Nic> nics, Path networkNamespace) {
    this(name, kernel, initrd, kernelArgs, vcpus, memoryMib, shares, runDirectory, nics, networkNamespace, false);
  }

  /** A VM without network devices. */
  public VmSpec(String name, Path kernel, Path initrd, String kernelArgs, int vcpus, int memoryMib,
      List<Share> shares, Path runDirectory) {
    this(name, kernel, initrd, kernelArgs, vcpus, memoryMib, shares, runDirectory, List.of(), null);
  }

  public VmSpec {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(kernel, "kernel");
    Objects.requireNonNull(initrd, "initrd");
    Objects.requireNonNull(runDirectory, "runDirectory");
    if (vcpus < 1) {
      throw new IllegalArgumentException("a VM needs at least 1 vCPU, got " + vcpus);
    }
    if (memoryMib < 64) {
      throw new IllegalArgumentException("a VM needs at least 64 MiB of memory, got " + memoryMib);
    }
    shares = List.copyOf(shares);
    nics = List.copyOf(nics);
  }

  /**
   * A host directory the guest mounts by {@code tag}.
   *
   * @param hostAttributes the guest sees the host's owners, modes and symbolic links as they are,
   *     instead of the guest-owned attributes kept in xattrs. Only for read-only shares: it lets
   *     the guest read host-made trees (volumes with symlinks), never create anything in them.
   */
  public record Share(String tag, Path hostPath, boolean readOnly, boolean hostAttributes) {
    public Share {
      if (hostAttributes && !readOnly) {
        throw new IllegalArgumentException("share " + tag + ": host attributes only on a read-only share");
      }
    }

    public Share(String tag, Path hostPath, boolean readOnly) {
      this(tag, hostPath, readOnly, false);
    }
  }

  /** A network device of the guest, with the MAC address the guest configures it by. */
  public sealed interface Nic permits UserNic, TapNic {
    String mac();
  }

  /**
   * User-mode networking inside the hypervisor process (outbound NAT, no host interface).
   *
   * @param forwards host ports forwarded into the guest
   */
  public record UserNic(String mac, String network, String host, String dns, String guest,
      List<PortForward> forwards) implements Nic {
    public UserNic {
      forwards = List.copyOf(forwards);
    }
  }

  /** A host port that reaches a guest port. */
  public record PortForward(String protocol, String hostIp, int hostPort, int guestPort) {}

  /** A tap device, already created in {@link #networkNamespace()}. */
  public record TapNic(String mac, String tapName) implements Nic {}

  /** The Unix socket the agent channel (virtio-serial port) is reached through. */
  public Path agentSocket() {
    return runDirectory.resolve("agent.sock");
  }

  /** The Unix socket of the hypervisor's control channel (QMP for QEMU). */
  public Path controlSocket() {
    return runDirectory.resolve("control.sock");
  }

  /** This VM with the benchmark's second port (see {@link #benchPort()}). */
  public VmSpec withBenchPort() {
    return new VmSpec(name, kernel, initrd, kernelArgs, vcpus, memoryMib, shares, runDirectory, nics, networkNamespace,
        true);
  }

  /** The Unix socket of the benchmark port, when {@link #benchPort()}. */
  public Path benchSocket() {
    return runDirectory.resolve("bench.sock");
  }

  /** The guest's serial console, kept for diagnostics when a boot fails. */
  public Path consoleLog() {
    return runDirectory.resolve("console.log");
  }
}
