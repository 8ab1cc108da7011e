package io.isola.vmm.jail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The host's cgroup hierarchy as isola uses it: one cgroup per sandbox under a parent, limiting
 * CPU, memory and pids. cgroup v2 (one unified tree with those controllers) is used when the
 * host mounts it at the root; otherwise cgroup v1 with one tree per controller (hybrid hosts,
 * whose unified tree carries no controllers, are v1 here).
 */
public final class Cgroups {
  private static final Logger LOG = Logger.getLogger(Cgroups.class.getName());
  static final List<String> V1_CONTROLLERS = List.of("cpu", "memory", "pids");

  private final Path mountRoot;
  private final boolean v2;
  private final String parent;

  Cgroups(Path mountRoot, boolean v2, String parent) {
    this.mountRoot = mountRoot;
    this.v2 = v2;
    this.parent = parent;
  }

  /** Detects the host's layout under /sys/fs/cgroup. */
  public static Cgroups detect(String parent) throws JailException {
    return detect(Path.of("/sys/fs/cgroup"), parent);
  }

  static Cgroups detect(Path mountRoot, String parent) throws JailException {
    if (Files.exists(mountRoot.resolve("cgroup.controllers"))) {
      String controllers = read(mountRoot.resolve("cgroup.controllers")).orElse("");
      for (String c : V1_CONTROLLERS) {
        if (!(" " + controllers.strip() + " ").contains(" " + c + " ")) {
          throw new JailException("the cgroup v2 root lacks the " + c + " controller; enable it or set [jail] enabled = false");
        }
      }
      return new Cgroups(mountRoot, true, parent);
    }
    for (String c : V1_CONTROLLERS) {
      if (!Files.isDirectory(mountRoot.resolve(c))) {
        throw new JailException("no cgroup v1 " + c + " controller at " + mountRoot.resolve(c)
            + " and no cgroup v2 root: mount them, or set [jail] enabled = false");
      }
    }
    return new Cgroups(mountRoot, false, parent);
  }

  public boolean isV2() {
    return v2;
  }

  /** "cgroup v1 (cpu, memory, pids)" or "cgroup v2". */
  public String describe() {
    return v2 ? "cgroup v2" : "cgroup v1 (" + String.join(", ", V1_CONTROLLERS) + ")";
  }

  /** The directories of sandbox {@code name}'s cgroup: one on v2, one per controller on v1. */
  List<Path> directories(String name) {
    List<Path> dirs = new ArrayList<>();
    if (v2) {
      dirs.add(mountRoot.resolve(parent).resolve(name));
    } else {
      for (String c : V1_CONTROLLERS) {
        dirs.add(mountRoot.resolve(c).resolve(parent).resolve(name));
      }
    }
    return dirs;
  }

  /** Makes the sandbox's cgroup with its limits (the jailer moves QEMU into it). */
  public SandboxCgroup create(String name, CgroupLimits limits) throws JailException {
    try {
      if (v2) {
        enableControllers(mountRoot);
        enableControllers(Files.createDirectories(mountRoot.resolve(parent)));
      }
      List<Path> dirs = directories(name);
      for (Path d : dirs) {
        Files.createDirectories(d);
      }
      SandboxCgroup cgroup = new SandboxCgroup(dirs, v2);
      try {
        cgroup.apply(limits);
      } catch (IOException e) {
        cgroup.remove();
        throw e;
      }
      return cgroup;
    } catch (IOException e) {
      throw new JailException("cannot make the cgroup of sandbox " + name + ": " + e.getMessage(), e);
    }
  }

  /** The cgroup of an adopted sandbox, named as {@link #create} named it. */
  public SandboxCgroup open(String name) {
    return new SandboxCgroup(directories(name), v2);
  }

  /**
   * The sandbox cgroup process {@code pid} is in, as the kernel reports it: a VM taken from the
   * warm pool keeps the cgroup named after its pool id, not after its sandbox.
   */
  public SandboxCgroup ofProcess(long pid) throws JailException {
    String text = read(Path.of("/proc", Long.toString(pid), "cgroup")).orElse("");
    return open(sandboxName(text).orElseThrow(() -> new JailException(
        "process " + pid + " is in no sandbox cgroup under " + parent + ": it was not jailed")));
  }

  /** The sandbox's name from /proc/PID/cgroup text: the memory line (v1) or the unified one (v2). */
  Optional<String> sandboxName(String procCgroup) {
    String prefix = "/" + parent + "/";
    for (String line : procCgroup.split("\n")) {
      String[] f = line.split(":", 3);
      if (f.length != 3 || !(v2 ? f[0].equals("0") && f[1].isEmpty() : List.of(f[1].split(",")).contains("memory"))) {
        continue;
      }
      if (f[2].startsWith(prefix)) {
        String name = f[2].substring(prefix.length());
        if (!name.isEmpty() && !name.contains("/") && !name.equals("..") && !name.equals(".")) {
          return Optional.of(name);
        }
      }
    }
    return Optional.empty();
  }

  /**
   * Removes every sandbox cgroup under the parent that holds no process: left by VMs that ended
   * while no supervisor watched. The kernel refuses to remove one that still has members.
   */
  public void sweep() {
    List<Path> parents = new ArrayList<>();
    if (v2) {
      parents.add(mountRoot.resolve(parent));
    } else {
      V1_CONTROLLERS.forEach(c -> parents.add(mountRoot.resolve(c).resolve(parent)));
    }
    for (Path p : parents) {
      if (!Files.isDirectory(p)) {
        continue;
      }
      try (DirectoryStream<Path> children = Files.newDirectoryStream(p, Files::isDirectory)) {
        for (Path child : children) {
          try {
            Files.delete(child);
          } catch (IOException busy) {
            LOG.log(Level.FINE, "cgroup " + child + " is in use", busy);
          }
        }
      } catch (IOException e) {
        LOG.log(Level.WARNING, "cannot list " + p, e);
      }
    }
  }

  private static void enableControllers(Path dir) throws IOException {
    Files.writeString(dir.resolve("cgroup.subtree_control"), "+cpu +memory +pids");
  }

  static Optional<String> read(Path file) {
    try {
      return Optional.of(Files.readString(file, StandardCharsets.US_ASCII));
    } catch (IOException e) {
      return Optional.empty();
    }
  }
}
