package io.isola.vmm.jail;

import io.isola.vmm.hypervisor.VmSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Confines every sandbox's QEMU (see docs/threat-model.md): its own uid and gid from the
 * configured range, its own mount namespace holding only its files, a cgroup with CPU, memory and
 * pids limits, rlimits, no inherited descriptors, a clean environment, no capabilities (except
 * binding a low port for a published port below 1024). The work inside the new process is done
 * by the isola-jailer binary, which then becomes QEMU.
 */
public final class Jailer {
  private final JailSettings settings;
  private final JailIds ids;
  private final Cgroups cgroups;

  Jailer(JailSettings settings, JailIds ids, Cgroups cgroups) {
    this.settings = settings;
    this.ids = ids;
    this.cgroups = cgroups;
  }

  /**
   * Checks that this host can confine as configured: root, the jailer binary, the cgroup
   * controllers. The message of a failure says what to install or change.
   *
   * @param shortLived an embedded run (picks uids from a random place in the range)
   */
  public static Jailer create(JailSettings settings, boolean shortLived) throws JailException {
    if (!settings.enabled()) {
      throw new IllegalArgumentException("the jail is disabled");
    }
    if (!"root".equals(System.getProperty("user.name"))) {
      throw new JailException("confining QEMU needs root (a new uid, mount namespace and cgroup per sandbox); "
          + "run as root, or set [jail] enabled = false on a development machine");
    }
    if (!Files.isExecutable(settings.jailer())) {
      throw new JailException("the jailer " + settings.jailer() + " is missing: build it (make build) or set [jail] jailer");
    }
    return new Jailer(settings, new JailIds(settings.uidBase(), settings.uidCount(), shortLived),
        Cgroups.detect(settings.cgroupParent()));
  }

  JailSettings settings() {
    return settings;
  }

  JailIds ids() {
    return ids;
  }

  public Cgroups cgroups() {
    return cgroups;
  }

  /** A new jail for a VM about to start; its host side is ready when this returns. */
  public Jail prepare(VmSpec spec) throws IOException {
    long uid = ids.allocate();
    SandboxCgroup cgroup;
    try {
      cgroup = cgroups.create(spec.name(), CgroupLimits.forVm(spec.vcpus(), spec.memoryMib(), settings));
    } catch (JailException e) {
      ids.release(uid);
      throw e;
    }
    Jail jail = new Jail(this, spec, uid, cgroup, capabilities(spec));
    try {
      jail.prepareHost();
      return jail;
    } catch (IOException | RuntimeException e) {
      jail.release();
      throw e;
    }
  }

  /** The jail of a QEMU a previous supervisor started: its uid as the kernel reports it. */
  public Jail adopt(VmSpec spec, long pid) throws IOException {
    long uid = JailIds.uidOf(Path.of("/proc", Long.toString(pid)));
    if (!ids.contains(uid)) {
      throw new JailException("QEMU pid " + pid + " runs as uid " + uid + ", outside the jail range: it was not jailed");
    }
    ids.claim(uid);
    return new Jail(this, spec, uid, cgroups.ofProcess(pid), capabilities(spec));
  }

  /** Removes cgroups no process is in (VMs that ended while no supervisor watched). */
  public void sweep() {
    cgroups.sweep();
  }

  private static List<String> capabilities(VmSpec spec) {
    List<String> caps = new ArrayList<>();
    boolean lowPort = spec.nics().stream().filter(n -> n instanceof VmSpec.UserNic)
        .flatMap(n -> ((VmSpec.UserNic) n).forwards().stream()).anyMatch(f -> f.hostPort() < 1024);
    if (lowPort) {
      caps.add("net_bind_service"); // only admins may publish below 1024 (PlumbingRequests)
    }
    return caps;
  }
}
