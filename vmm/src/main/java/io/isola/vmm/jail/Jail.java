package io.isola.vmm.jail;

import io.isola.vmm.hypervisor.VmSpec;
import io.isola.vmm.volume.BindMounts;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One sandbox's confinement: the uid and gid its QEMU runs as, its cgroup, and the jailer command
 * that starts QEMU inside them. Released (cgroup removed, uid returned) when the VM has ended.
 */
public final class Jail {
  private static final Logger LOG = Logger.getLogger(Jail.class.getName());

  private final Jailer jailer;
  private final VmSpec spec;
  private final long uid;
  private final SandboxCgroup cgroup;
  private final List<String> keepCapabilities;
  private final AtomicBoolean released = new AtomicBoolean();

  Jail(Jailer jailer, VmSpec spec, long uid, SandboxCgroup cgroup, List<String> keepCapabilities) {
    this.jailer = jailer;
    this.spec = spec;
    this.uid = uid;
    this.cgroup = cgroup;
    this.keepCapabilities = List.copyOf(keepCapabilities);
  }

  /** The uid (and gid) QEMU runs as. */
  public long uid() {
    return uid;
  }

  public SandboxCgroup cgroup() {
    return cgroup;
  }

  /** Where the jailer builds QEMU's root (an empty directory on the host). */
  static Path rootDirectory(VmSpec spec) {
    return spec.runDirectory().resolve("jail");
  }

  /**
   * Readies the host side: QEMU's run directory becomes its own (it creates its sockets there),
   * writable shares are handed over, every share becomes a shared mount.
   */
  void prepareHost() throws IOException {
    Path root = rootDirectory(spec);
    if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
      Files.createDirectory(root, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }
    FileOwnership.chown(spec.runDirectory(), uid, uid);
    for (VmSpec.Share share : spec.shares()) {
      if (share.readOnly()) {
        // QEMU reads it as its own uid: the directory itself must be searchable by others
        Files.setPosixFilePermissions(share.hostPath(), PosixFilePermissions.fromString("rwxr-xr-x"));
      } else {
        FileOwnership.handOver(share.hostPath(), uid, uid);
      }
      SharedMounts.makeShared(share.hostPath());
    }
  }

  /**
   * After QEMU has made its sockets: the run directory goes back to root, so a QEMU taken over by
   * its guest cannot swap a socket for a link to another sandbox's.
   */
  public void sealRunDirectory() throws IOException {
    FileOwnership.chown(spec.runDirectory(), 0, 0);
    Files.setPosixFilePermissions(spec.runDirectory(), PosixFilePermissions.fromString("rwx--x--x"));
  }

  /** Gives QEMU a tree it will serve read-write (a container's root filesystem made after boot). */
  public void handOver(Path tree) throws IOException {
    FileOwnership.handOver(tree, uid, uid);
  }

  /** The jailer's argv, ending with {@code qemuArgv}. */
  public List<String> command(List<String> qemuArgv, boolean kvm) {
    List<String> argv = new ArrayList<>();
    argv.add(jailer.settings().jailer().toString());
    add(argv, "--uid", Long.toString(uid));
    add(argv, "--gid", Long.toString(uid));
    add(argv, "--root", rootDirectory(spec).toString());
    for (Path d : cgroup.directories()) {
      add(argv, "--cgroup", d.toString());
    }
    if (spec.networkNamespace() != null) {
      add(argv, "--netns", spec.networkNamespace().toString());
    }
    add(argv, "--bind", spec.runDirectory().toString());
    add(argv, "--bind", spec.kernel() + ":ro");
    add(argv, "--bind", spec.initrd() + ":ro");
    for (VmSpec.Share share : spec.shares()) {
      add(argv, "--bind", share.hostPath() + (share.readOnly() ? ":ro" : ""));
    }
    if (kvm) {
      add(argv, "--dev", "/dev/kvm");
    }
    boolean taps = false;
    for (VmSpec.Nic nic : spec.nics()) {
      if (nic instanceof VmSpec.TapNic tap) {
        add(argv, "--tap", tap.tapName()); // given to QEMU's uid, so it opens them without privilege
        taps = true;
      }
    }
    if (taps) {
      add(argv, "--dev", "/dev/net/tun");
    }
    for (String cap : keepCapabilities) {
      add(argv, "--keep-cap", cap);
    }
    add(argv, "--rlimit", "core=0");
    add(argv, "--rlimit", "nofile=4096");
    add(argv, "--rlimit", "nproc=" + jailer.settings().pidsMax());
    argv.add("--");
    argv.addAll(qemuArgv);
    return argv;
  }

  /** Once the VM has ended: the cgroup goes, the uid returns to the pool, the shares' mounts go. */
  public void release() {
    if (!released.compareAndSet(false, true)) {
      return;
    }
    cgroup.remove();
    jailer.ids().release(uid);
    for (VmSpec.Share share : spec.shares()) {
      try {
        BindMounts.unmountAllUnder(share.hostPath());
      } catch (IOException e) {
        LOG.log(Level.WARNING, "cannot unmount below " + share.hostPath(), e);
      }
    }
  }

  private static void add(List<String> argv, String option, String value) {
    argv.add(option);
    argv.add(value);
  }
}
