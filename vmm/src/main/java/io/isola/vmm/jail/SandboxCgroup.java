package io.isola.vmm.jail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/** One sandbox's cgroup: a directory per controller on cgroup v1, one directory on v2. */
public final class SandboxCgroup {
  private static final Logger LOG = Logger.getLogger(SandboxCgroup.class.getName());

  private final List<Path> directories;
  private final boolean v2;

  SandboxCgroup(List<Path> directories, boolean v2) {
    this.directories = List.copyOf(directories);
    this.v2 = v2;
  }

  /** What the jailer joins (it writes its own pid to each cgroup.procs). */
  public List<Path> directories() {
    return directories;
  }

  void apply(CgroupLimits limits) throws IOException {
    if (v2) {
      Path d = directories.get(0);
      write(d, "memory.max", limits.memoryBytes());
      write(d, "memory.swap.max", 0);
      Files.writeString(d.resolve("cpu.max"), limits.cpuQuotaMicros() + " " + CgroupLimits.CPU_PERIOD_MICROS);
      // cgroup v2 weights run 1..10000 around 100; v1 shares run around 1024.
      write(d, "cpu.weight", Math.max(1, Math.min(10_000, limits.cpuWeight() * 100 / 1024)));
      write(d, "pids.max", limits.pidsMax());
      return;
    }
    Path cpu = controller("cpu");
    write(cpu, "cpu.cfs_period_us", CgroupLimits.CPU_PERIOD_MICROS);
    write(cpu, "cpu.cfs_quota_us", limits.cpuQuotaMicros());
    write(cpu, "cpu.shares", limits.cpuWeight());
    Path memory = controller("memory");
    write(memory, "memory.limit_in_bytes", limits.memoryBytes());
    if (Files.exists(memory.resolve("memory.memsw.limit_in_bytes"))) {
      write(memory, "memory.memsw.limit_in_bytes", limits.memoryBytes()); // no swap beyond the limit
    }
    write(controller("pids"), "pids.max", limits.pidsMax());
  }

  private Path controller(String name) {
    return directories.stream().filter(d -> d.getParent().getParent().getFileName().toString().equals(name))
        .findFirst().orElseThrow();
  }

  private static void write(Path dir, String file, long value) throws IOException {
    Files.writeString(dir.resolve(file), Long.toString(value));
  }

  /** Whether the kernel's OOM killer has killed a process of this cgroup (QEMU past its limit). */
  public boolean oomKilled() {
    Path memory = v2 ? directories.get(0).resolve("memory.events") : controller("memory").resolve("memory.oom_control");
    return Cgroups.read(memory).map(SandboxCgroup::oomKills).orElse(0L) > 0;
  }

  /** The "oom_kill N" line of memory.events (v2) or memory.oom_control (v1, kernels >= 4.13). */
  static long oomKills(String text) {
    for (String line : text.split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length == 2 && f[0].equals("oom_kill")) {
        try {
          return Long.parseLong(f[1]);
        } catch (NumberFormatException e) {
          return 0;
        }
      }
    }
    return 0;
  }

  /** Removes the cgroup (its processes must have ended). */
  public void remove() {
    for (Path d : directories) {
      try {
        Files.deleteIfExists(d);
      } catch (NoSuchFileException gone) {
        // already removed
      } catch (IOException e) {
        LOG.log(Level.WARNING, "cannot remove cgroup " + d + " (a process still in it?)", e);
      }
    }
  }
}
