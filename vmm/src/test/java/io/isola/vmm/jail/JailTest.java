package io.isola.vmm.jail;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isola.vmm.hypervisor.VmSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The jail's pieces that need no root: uid allocation, cgroup files, the jailer's argv. */
class JailTest {
  @TempDir Path dir;

  @Test
  void uidsAreNeverSharedAndComeBackWhenReleased() throws Exception {
    JailIds ids = new JailIds(5_000_000, 3, false);
    Set<Long> taken = new HashSet<>(List.of(ids.allocate(), ids.allocate(), ids.allocate()));
    assertEquals(Set.of(5_000_000L, 5_000_001L, 5_000_002L), taken);
    JailException full = assertThrows(JailException.class, ids::allocate);
    assertTrue(full.getMessage().contains("uid_count"), full.getMessage());
    ids.release(5_000_001L);
    assertEquals(5_000_001L, ids.allocate());
    assertThrows(JailException.class, () -> ids.claim(4_999_999L), "outside the range");
  }

  @Test
  void aUidARunningProcessHoldsIsSkipped() throws Exception {
    long mine = Integer.toUnsignedLong((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
    JailIds ids = new JailIds(mine, 2, false);
    assertEquals(mine + 1, ids.allocate(), "uid " + mine + " runs this test: never handed out");
  }

  @Test
  void randomStartsStillNeverCollide() throws Exception {
    JailIds ids = new JailIds(6_000_000, 50, true);
    Set<Long> seen = new HashSet<>();
    for (int i = 0; i < 50; i++) {
      assertTrue(seen.add(ids.allocate()));
    }
  }

  @Test
  void limitsFollowTheVmSize() {
    CgroupLimits l = CgroupLimits.forVm(2, 512, JailSettings.DEFAULTS);
    assertEquals((512L + 256) << 20, l.memoryBytes());
    assertEquals(250_000, l.cpuQuotaMicros());
    assertEquals(1024, l.cpuWeight(), "every sandbox weighs the same under contention");
    assertEquals(512, l.pidsMax());
  }

  @Test
  void cgroupV1WritesEachControllersLimits() throws Exception {
    for (String c : Cgroups.V1_CONTROLLERS) {
      Files.createDirectories(dir.resolve(c));
    }
    Cgroups cgroups = Cgroups.detect(dir, "isola");
    assertFalse(cgroups.isV2());
    SandboxCgroup cg = cgroups.create("sb1", new CgroupLimits(300L << 20, 150_000, 1024, 128));
    assertEquals(List.of(dir.resolve("cpu/isola/sb1"), dir.resolve("memory/isola/sb1"), dir.resolve("pids/isola/sb1")),
        cg.directories());
    assertEquals("150000", Files.readString(dir.resolve("cpu/isola/sb1/cpu.cfs_quota_us")));
    assertEquals("100000", Files.readString(dir.resolve("cpu/isola/sb1/cpu.cfs_period_us")));
    assertEquals("1024", Files.readString(dir.resolve("cpu/isola/sb1/cpu.shares")));
    assertEquals(Long.toString(300L << 20), Files.readString(dir.resolve("memory/isola/sb1/memory.limit_in_bytes")));
    assertEquals("128", Files.readString(dir.resolve("pids/isola/sb1/pids.max")));
    Files.writeString(dir.resolve("memory/isola/sb1/memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
    assertTrue(cg.oomKilled());
  }

  @Test
  void cgroupV2UsesOneTreeAndEnablesItsControllers() throws Exception {
    Files.writeString(dir.resolve("cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc\n");
    Cgroups cgroups = Cgroups.detect(dir, "isola");
    assertTrue(cgroups.isV2());
    SandboxCgroup cg = cgroups.create("sb2", new CgroupLimits(300L << 20, 150_000, 2048, 128));
    Path d = dir.resolve("isola/sb2");
    assertEquals(List.of(d), cg.directories());
    assertEquals("+cpu +memory +pids", Files.readString(dir.resolve("cgroup.subtree_control")));
    assertEquals("+cpu +memory +pids", Files.readString(dir.resolve("isola/cgroup.subtree_control")));
    assertEquals(Long.toString(300L << 20), Files.readString(d.resolve("memory.max")));
    assertEquals("0", Files.readString(d.resolve("memory.swap.max")));
    assertEquals("150000 100000", Files.readString(d.resolve("cpu.max")));
    assertEquals("200", Files.readString(d.resolve("cpu.weight")));
    assertEquals("128", Files.readString(d.resolve("pids.max")));
    assertFalse(cg.oomKilled());
    Files.writeString(d.resolve("memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n");
    assertTrue(cg.oomKilled());
  }

  @Test
  void aHostWithoutTheControllersIsToldWhatToDo() throws Exception {
    Files.createDirectories(dir.resolve("memory"));
    JailException e = assertThrows(JailException.class, () -> Cgroups.detect(dir, "isola"));
    assertTrue(e.getMessage().contains("enabled = false"), e.getMessage());
    Files.writeString(dir.resolve("cgroup.controllers"), "cpu io\n");
    e = assertThrows(JailException.class, () -> Cgroups.detect(dir, "isola"));
    assertTrue(e.getMessage().contains("memory controller"), e.getMessage());
  }

  @Test
  void anAdoptedQemusCgroupIsTheOneTheKernelNames() throws Exception {
    for (String c : Cgroups.V1_CONTROLLERS) {
      Files.createDirectories(dir.resolve("v1").resolve(c));
    }
    Cgroups v1 = Cgroups.detect(dir.resolve("v1"), "isola");
    assertEquals(java.util.Optional.of("pool-1a2b"), v1.sandboxName(
        "9:name=systemd:/\n4:memory:/isola/pool-1a2b\n8:pids:/isola/pool-1a2b\n0::/\n"));
    assertEquals(java.util.Optional.empty(), v1.sandboxName("4:memory:/other/x\n"), "outside the parent");
    assertEquals(java.util.Optional.empty(), v1.sandboxName("4:memory:/isola/a/b\n"), "nested: not ours");
    Files.createDirectories(dir.resolve("v2"));
    Files.writeString(dir.resolve("v2/cgroup.controllers"), "cpu memory pids\n");
    Cgroups v2 = Cgroups.detect(dir.resolve("v2"), "isola");
    assertEquals(java.util.Optional.of("sb9"), v2.sandboxName("0::/isola/sb9\n"));
  }

  @Test
  void oomKillCountIsReadFromItsOwnLineOnly() {
    assertEquals(0, SandboxCgroup.oomKills("oom 4\noom_kill_disable 0\n"));
    assertEquals(7, SandboxCgroup.oomKills("oom 4\noom_kill 7\n"));
    assertEquals(0, SandboxCgroup.oomKills("oom_kill seven\n"));
  }

  @Test
  void theJailerCommandBindsOnlyTheSandboxsFiles() throws Exception {
    for (String c : Cgroups.V1_CONTROLLERS) {
      Files.createDirectories(dir.resolve("cg").resolve(c));
    }
    Jailer jailer = new Jailer(JailSettings.DEFAULTS.withJailer(Path.of("/opt/isola-jailer")),
        new JailIds(7_000_000, 10, false), Cgroups.detect(dir.resolve("cg"), "isola"));
    VmSpec spec = new VmSpec("sb3", Path.of("/k/vmlinux"), Path.of("/k/initrd"), "console=ttyS0", 1, 256,
        List.of(new VmSpec.Share("share", Path.of("/s/share"), false), new VmSpec.Share("ro", Path.of("/s/ro"), true, true)),
        Path.of("/r/sb3"), List.of(new VmSpec.TapNic("02:00:00:00:00:01", "isola0")), Path.of("/run/netns/x"));
    Jail jail = new Jail(jailer, spec, 7_000_003, jailer.cgroups().open("sb3"), List.of());
    List<String> argv = jail.command(List.of("/usr/bin/qemu-system-x86_64", "-m", "256M"), false);
    assertEquals("/opt/isola-jailer", argv.get(0));
    String joined = String.join(" ", argv);
    assertTrue(joined.contains("--uid 7000003 --gid 7000003 --root /r/sb3/jail"), joined);
    assertTrue(joined.contains("--netns /run/netns/x"), joined);
    assertTrue(joined.contains("--bind /r/sb3 --bind /k/vmlinux:ro --bind /k/initrd:ro --bind /s/share --bind /s/ro:ro"),
        joined);
    assertTrue(joined.contains("--tap isola0") && joined.contains("--dev /dev/net/tun"), joined);
    assertFalse(joined.contains("/dev/kvm"), "no KVM device under TCG: " + joined);
    assertFalse(joined.contains("--keep-cap"), joined);
    assertTrue(joined.endsWith("-- /usr/bin/qemu-system-x86_64 -m 256M"), joined);
    assertNotEquals(-1, argv.indexOf("--cgroup"));
  }
}
