package io.isola.vmm.jail;

import java.nio.file.Path;
import java.util.Objects;

/**
 * How every sandbox's hypervisor is confined (the {@code [jail]} table of isolad's configuration).
 *
 * @param enabled false runs QEMU as the supervisor's own user, unconfined: for development hosts
 *     only, and said loudly at start
 * @param jailer the isola-jailer binary
 * @param uidBase the first uid (and gid) handed to a sandbox's QEMU; the range must not hold host
 *     users or groups
 * @param uidCount how many uids the range holds: the most sandboxes that can run at once
 * @param cgroupParent the cgroup (under each controller's root) that holds one cgroup per sandbox
 * @param memoryOverheadMib what QEMU may use beyond guest memory (its own heap, the TCG code
 *     cache, device buffers) before the kernel kills it
 * @param pidsMax threads QEMU may run (vCPU threads, I/O workers, the 9p thread pool)
 */
public record JailSettings(boolean enabled, Path jailer, long uidBase, int uidCount, String cgroupParent,
    int memoryOverheadMib, int pidsMax) {

  public static final Path DEFAULT_JAILER = Path.of("/usr/libexec/isola/isola-jailer");
  public static final JailSettings DEFAULTS =
      new JailSettings(true, DEFAULT_JAILER, 4_000_000L, 65_536, "isola", 256, 512);

  public JailSettings {
    Objects.requireNonNull(jailer, "jailer");
    Objects.requireNonNull(cgroupParent, "cgroupParent");
    if (uidBase < 1 || uidBase + uidCount > 0xFFFF_FFFEL || uidCount < 1) {
      throw new IllegalArgumentException("jail uids " + uidBase + "+" + uidCount + " must lie within 1..4294967294");
    }
    if (!cgroupParent.matches("[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*") || cgroupParent.contains("..")) {
      throw new IllegalArgumentException("jail cgroup_parent must be a relative cgroup path, got \"" + cgroupParent + "\"");
    }
  }

  /** The jailer binary from the environment (ISOLA_JAILER: the build tree's launchers set it). */
  public JailSettings withJailerFromEnvironment() {
    String env = System.getenv("ISOLA_JAILER");
    return env == null || env.isEmpty() ? this : withJailer(Path.of(env));
  }

  public JailSettings withJailer(Path path) {
    return new JailSettings(enabled, path, uidBase, uidCount, cgroupParent, memoryOverheadMib, pidsMax);
  }

  public JailSettings disabled() {
    return new JailSettings(false, jailer, uidBase, uidCount, cgroupParent, memoryOverheadMib, pidsMax);
  }
}
