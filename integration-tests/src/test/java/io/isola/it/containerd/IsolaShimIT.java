package io.isola.it.containerd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isola.it.IsoladAccess;
import io.isola.it.containerd.ContainerdProcess.Result;
import io.isola.it.containerd.ContainerdProcess.Running;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * containerd 1.6 from Debian driving the isola shim ({@code io.containerd.isola.v2}) against a
 * real isolad and real VMs.
 */
class IsolaShimIT {
  private static final String IMAGE = ContainerdProcess.DEMO_IMAGE_REF;
  private static final String RUNTIME = ContainerdProcess.RUNTIME;
  @TempDir static Path dir;
  private static IsoladAccess.Started isolad;
  private static ContainerdProcess ctd;

  @BeforeAll
  static void start() throws Exception {
    isolad = IsoladAccess.start(dir);
    ctd = new ContainerdProcess(Map.of("ISOLA_SOCKET", isolad.socket().toString()));
    ctd.importDemoImage();
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      ctd.close();
      assertEquals(List.of(), ctd.leftovers, "containerd harness leftovers");
    } finally {
      isolad.close();
    }
  }

  private static String why(Result r) {
    return r + "\n--- containerd log tail\n" + ctd.logTail(60);
  }

  @Test
  void runRmPassesOutputAndExitCodeFromTheGuestKernel() throws Exception {
    // config.json's linux.resources reach the container's cgroup inside the guest
    Result r = ctd.ctr(Duration.ofSeconds(180), "run", "--rm", "--runtime", RUNTIME, "--memory-limit", "67108864",
        "--cpu-quota", "50000", "--cpu-period", "100000", IMAGE, "s1",
        "sh", "-c", "echo hello; uname -r; g=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup); "
            + "cat $g/memory.max $g/cpu.max; exit 3");
    assertEquals(3, r.exitCode(), () -> why(r));
    List<String> lines = r.stdout().lines().toList();
    assertEquals("hello", lines.get(0), () -> why(r));
    assertNotEquals(System.getProperty("os.version"), lines.get(1), "the container runs on the guest kernel");
    assertEquals(List.of("67108864", "50000 100000"), lines.subList(2, 4), () -> why(r));
    Result c = ctd.ctr("containers", "ls", "-q");
    assertTrue(c.stdout().lines().noneMatch("s1"::equals), () -> "--rm left a container: " + why(c));
  }

  @Test
  void detachedExecKillRmWithEventsInOrder() throws Exception {
    try (Running events = ctd.events()) {
      Result run = ctd.ctr(Duration.ofSeconds(180), "run", "-d", "--runtime", RUNTIME, IMAGE, "s2", "sleep", "600");
      assertEquals(0, run.exitCode(), () -> why(run));
      Result exec = ctd.ctr(Duration.ofSeconds(120), "task", "exec", "--exec-id", "e1", "s2", "echo", "hi");
      assertEquals(0, exec.exitCode(), () -> why(exec));
      assertEquals("hi\n", exec.stdout(), () -> why(exec));
      Result kill = ctd.ctr("task", "kill", "-s", "SIGKILL", "s2");
      assertEquals(0, kill.exitCode(), () -> why(kill));
      Result rm = null;
      for (int i = 0; i < 30; i++) {
        rm = ctd.ctr("task", "rm", "s2");
        if (rm.exitCode() == 0) {
          break;
        }
        Thread.sleep(1000);
      }
      Result removed = rm;
      assertEquals(0, removed.exitCode(), () -> why(removed));
      assertEquals(0, ctd.ctr("containers", "rm", "s2").exitCode());
      events.awaitStdout("/tasks/delete", Duration.ofSeconds(30));
      String seen = events.stdoutSoFar();
      int create = seen.indexOf("/tasks/create");
      int start = seen.indexOf("/tasks/start");
      int execAdded = seen.indexOf("/tasks/exec-added");
      int execStarted = seen.indexOf("/tasks/exec-started");
      int exit = seen.lastIndexOf("/tasks/exit");
      int delete = seen.lastIndexOf("/tasks/delete");
      assertTrue(create >= 0 && create < start && start < execAdded && execAdded < execStarted
          && execStarted < exit && exit < delete, "events in order: " + seen);
    }
  }

  private Result ctrOk(String... args) throws Exception {
    Result r = ctd.ctr(Duration.ofSeconds(180), args);
    assertEquals(0, r.exitCode(), () -> String.join(" ", args) + ": " + why(r));
    return r;
  }

  private void removeTask(String id) throws Exception {
    ctd.ctr("task", "kill", "-s", "SIGKILL", id);
    Result rm = null;
    for (int i = 0; i < 30; i++) {
      rm = ctd.ctr("task", "rm", id);
      if (rm.exitCode() == 0) {
        break;
      }
      Thread.sleep(1000);
    }
    Result removed = rm;
    assertEquals(0, removed.exitCode(), () -> why(removed));
    ctrOk("containers", "rm", id);
  }

  private static String taskStatus(Result ls, String id) {
    return ls.stdout().lines().filter(l -> l.startsWith(id + " ")).map(l -> l.trim().split("\\s+"))
        .map(f -> f[f.length - 1]).findFirst().orElse("(none)");
  }

  @Test
  void pauseResumeAndPs() throws Exception {
    try (Running events = ctd.events()) {
      ctrOk("run", "-d", "--runtime", RUNTIME, IMAGE, "s3", "sleep", "600");
      Result ps = ctrOk("task", "ps", "s3");
      assertTrue(ps.stdout().lines().count() >= 2, () -> "task ps lists the task's process: " + why(ps));
      ctrOk("task", "pause", "s3");
      assertEquals("PAUSED", taskStatus(ctrOk("task", "ls"), "s3"));
      ctrOk("task", "resume", "s3");
      assertEquals("RUNNING", taskStatus(ctrOk("task", "ls"), "s3"));
      events.awaitStdout("/tasks/resumed", Duration.ofSeconds(30));
      assertTrue(events.stdoutSoFar().indexOf("/tasks/paused") < events.stdoutSoFar().indexOf("/tasks/resumed"));
      removeTask("s3");
    }
  }

  @Test
  void podMembersShareOneVmAndPodsGetTheirOwn() throws Exception {
    String annotation = "io.kubernetes.cri.sandbox-id=";
    ctrOk("run", "-d", "--runtime", RUNTIME, "--annotation", annotation + "poda", IMAGE, "poda", "sleep", "600");
    ctrOk("run", "-d", "--runtime", RUNTIME, "--annotation", annotation + "poda", IMAGE, "poda-app", "sleep", "600");
    ctrOk("run", "-d", "--runtime", RUNTIME, "--annotation", annotation + "podb", IMAGE, "podb", "sleep", "600");
    String bootA = ctrOk("task", "exec", "--exec-id", "b1", "poda", "cat", "/proc/sys/kernel/random/boot_id").stdout();
    String bootA2 = ctrOk("task", "exec", "--exec-id", "b2", "poda-app", "cat", "/proc/sys/kernel/random/boot_id").stdout();
    String bootB = ctrOk("task", "exec", "--exec-id", "b3", "podb", "cat", "/proc/sys/kernel/random/boot_id").stdout();
    assertEquals(bootA, bootA2, "two containers of one pod share one guest kernel");
    assertNotEquals(bootA, bootB, "two pods get two VMs");
    removeTask("poda-app");
    removeTask("poda");
    removeTask("podb");
  }

  @Test
  void logUriFileGetsBothStreams() throws Exception {
    Path log = dir.resolve("task.log");
    ctrOk("run", "--rm", "--runtime", RUNTIME, "--log-uri", "file://" + log, IMAGE, "s4",
        "sh", "-c", "echo to-out; echo to-err >&2");
    String text = java.nio.file.Files.readString(log);
    assertTrue(text.contains("to-out") && text.contains("to-err"), text);
  }

  @Test
  void runtimeOptionsSizeTheSandboxAndChooseWhichAnnotationsCount() throws Exception {
    Path options = dir.resolve("shim.toml");
    java.nio.file.Files.writeString(options, "memory_mib = 192\nvcpus = 1\n"
        + "enable_annotations = [\"io.isola.sandbox.vcpus\"]\n");
    Result r = ctrOk("run", "--rm", "--runtime", RUNTIME, "--runtime-config-path", options.toString(),
        "--annotation", "io.isola.sandbox.vcpus=2", IMAGE, "s8",
        "sh", "-c", "grep -c ^processor /proc/cpuinfo; grep MemTotal /proc/meminfo");
    List<String> lines = r.stdout().lines().toList();
    assertEquals("2", lines.get(0).strip(), () -> "the enabled annotation sets 2 vCPUs: " + why(r));
    long memKib = Long.parseLong(lines.get(1).replaceAll("[^0-9]", ""));
    assertTrue(memKib > 100_000 && memKib < 192 * 1024, () -> "about 192 MiB from the options: " + why(r));

    int vmsBefore = isolad.qemuCount();
    Result refused = ctd.ctr(Duration.ofSeconds(120), "run", "--rm", "--runtime", RUNTIME,
        "--runtime-config-path", options.toString(), "--annotation", "io.isola.sandbox.memory_mib=4096",
        IMAGE, "s8b", "true");
    assertNotEquals(0, refused.exitCode(), () -> why(refused));
    assertTrue(refused.stderr().contains("io.isola.sandbox.memory_mib is not enabled"), () -> why(refused));
    assertEquals(vmsBefore, isolad.qemuCount(), "a refused task boots no VM");
    Result c = ctd.ctr("containers", "ls", "-q");
    assertTrue(c.stdout().lines().noneMatch("s8b"::equals), () -> "--rm left a container: " + why(c));
  }

  @Test
  void theSameIdInTwoNamespacesGetsTwoContainers() throws Exception {
    String other = "isola-it-other";
    Result imported = ctd.ctrIn(other, Duration.ofSeconds(120), "images", "import",
        ContainerdProcess.DEMO_IMAGE_TAR.toString());
    assertEquals(0, imported.exitCode(), () -> why(imported));
    try {
      ctrOk("run", "-d", "--runtime", RUNTIME, IMAGE, "twin", "sleep", "600");
      Result second = ctd.ctrIn(other, Duration.ofSeconds(180), "run", "-d", "--runtime", RUNTIME, IMAGE, "twin",
          "sleep", "600");
      assertEquals(0, second.exitCode(), () -> "no collision in isolad: " + why(second));
      String bootHere = ctrOk("task", "exec", "--exec-id", "n1", "twin", "cat", "/proc/sys/kernel/random/boot_id")
          .stdout();
      Result there = ctd.ctrIn(other, Duration.ofSeconds(60), "task", "exec", "--exec-id", "n1", "twin",
          "cat", "/proc/sys/kernel/random/boot_id");
      assertEquals(0, there.exitCode(), () -> why(there));
      assertNotEquals(bootHere, there.stdout(), "two namespaces' containers are two sandboxes");
    } finally {
      ctd.ctrIn(other, Duration.ofSeconds(60), "task", "kill", "-s", "SIGKILL", "twin");
      for (int i = 0; i < 30; i++) {
        if (ctd.ctrIn(other, Duration.ofSeconds(60), "task", "rm", "twin").exitCode() == 0
            || !ctd.ctrIn(other, Duration.ofSeconds(60), "task", "ls").stdout().contains("twin")) {
          break;
        }
        Thread.sleep(1000);
      }
      ctd.ctrIn(other, Duration.ofSeconds(60), "containers", "rm", "twin");
      ctd.ctrIn(other, Duration.ofSeconds(60), "images", "rm", IMAGE);
    }
    removeTask("twin");
  }

  @Test
  void terminalModeGivesAPty() throws Exception {
    // ctr sends its terminal's size (ResizePty) once the task started; the guest's tty takes it
    Result r = ctd.ctrInTerminal(Duration.ofSeconds(180), new byte[0], 33, 77, "run", "-t", "--rm",
        "--runtime", RUNTIME, IMAGE, "s5", "sh", "-c", "tty; sleep 2; stty size; exit 4");
    assertEquals(4, r.exitCode(), () -> why(r));
    assertTrue(r.stdout().contains("/dev/pts/"), () -> why(r));
    assertTrue(r.stdout().contains("33 77"), () -> "the guest terminal has ctr's size: " + why(r));
  }

  @Test
  void taskSurvivesAnIsoladRestart() throws Exception {
    ctrOk("run", "-d", "--runtime", RUNTIME, IMAGE, "s9", "sh", "-c", "echo before; sleep 600");
    isolad.restartAfterKill();
    // straight after the restart: the shim reconnects on its own, no task is lost
    Result exec = ctd.ctr(Duration.ofSeconds(90), "task", "exec", "--exec-id", "r1", "s9", "echo", "after");
    assertEquals(0, exec.exitCode(), () -> why(exec));
    assertEquals("after\n", exec.stdout(), () -> why(exec));
    assertEquals("RUNNING", taskStatus(ctrOk("task", "ls"), "s9"));
    Result second = ctd.ctr(Duration.ofSeconds(90), "task", "exec", "--exec-id", "r2", "s9", "sh", "-c", "exit 5");
    assertEquals(5, second.exitCode(), () -> why(second));
    removeTask("s9");
  }

  @Test
  void podNetworkNamespaceAndMountsReachTheVm() throws Exception {
    Path volume = java.nio.file.Files.createDirectories(isolad.stateRoot().resolve("volumes").resolve("cfg"));
    java.nio.file.Files.writeString(volume.resolve("app.conf"), "from-the-host\n");
    try (io.isola.it.NetnsPair pair = new io.isola.it.NetnsPair("isshim" + ProcessHandle.current().pid(), 94)) {
      Result r = ctrOk("run", "--rm", "--runtime", RUNTIME, "--with-ns", "network:" + pair.sandboxNsPath(),
          "--mount", "type=bind,src=" + volume + ",dst=/etc/app,options=rbind:ro", IMAGE, "s10",
          "sh", "-c", "cat /etc/app/app.conf; ip -o -4 addr show eth0 | tr -s ' ' | cut -d' ' -f4;"
              + " (echo x > /etc/app/new) 2>/dev/null && echo WRITABLE || echo read-only");
      assertEquals(List.of("from-the-host", pair.sandboxIp + "/24", "read-only"), r.stdout().lines().toList(),
          () -> why(r));
      assertTrue(pair.sandboxLinks().stream().noneMatch(l -> l.startsWith("isola")), "the tap went with the task");
    }
    assertEquals(List.of(), ContainerdProcess.mountsUnder(isolad.stateRoot()), "no volume bind left");
  }

  @Test
  void killedShimLeavesNothingBehind() throws Exception {
    int vmsBefore = isolad.qemuCount();
    ctrOk("run", "-d", "--runtime", RUNTIME, IMAGE, "s7", "sleep", "600");
    assertEquals(vmsBefore + 1, isolad.qemuCount(), "one VM for the task");
    List<ProcessHandle> shims = ctd.shimProcesses();
    assertTrue(!shims.isEmpty(), "a shim runs");
    shims.forEach(ProcessHandle::destroyForcibly);
    String status = "";
    for (int i = 0; i < 60; i++) {
      status = taskStatus(ctd.ctr("task", "ls"), "s7");
      if (!status.equals("RUNNING")) {
        break;
      }
      Thread.sleep(1000);
    }
    assertTrue(status.equals("STOPPED") || status.equals("(none)") || status.equals("UNKNOWN"),
        "containerd reports the task gone: " + status);
    for (int i = 0; i < 60 && isolad.qemuCount() > vmsBefore; i++) {
      Thread.sleep(1000);
    }
    assertEquals(vmsBefore, isolad.qemuCount(), "the task's VM is gone");
    ctd.ctr("task", "rm", "-f", "s7");
    ctd.ctr("containers", "rm", "s7");
  }
}
