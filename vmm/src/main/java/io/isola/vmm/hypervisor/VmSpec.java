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
 */
public record VmSpec(String name, Path kernel, Path initrd, String kernelArgs, int vcpus,
    int memoryMib, List<Share> shares, Path runDirectory) {

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
  }

  /** A host directory the guest mounts by {@code tag}. */
  public record Share(String tag, Path hostPath, boolean readOnly) {}

  /** The Unix socket the agent channel (virtio-serial port) is reached through. */
  public Path agentSocket() {
    return runDirectory.resolve("agent.sock");
  }

  /** The Unix socket of the hypervisor's control channel (QMP for QEMU). */
  public Path controlSocket() {
    return runDirectory.resolve("control.sock");
  }

  /** The guest's serial console, kept for diagnostics when a boot fails. */
  public Path consoleLog() {
    return runDirectory.resolve("console.log");
  }
}
