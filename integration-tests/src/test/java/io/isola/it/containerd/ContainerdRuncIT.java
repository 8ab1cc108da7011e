package io.isola.it.containerd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isola.it.containerd.ContainerdProcess.Result;
import io.isola.it.containerd.ContainerdProcess.Running;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Proves the containerd harness with the stock runc shim ({@code io.containerd.runc.v2}), so that
 * a failure in the isola shim's tests can be told apart from a failure of the harness.
 */
class ContainerdRuncIT {
  private static final String RUNC = "io.containerd.runc.v2";
  private static final String IMAGE = ContainerdProcess.DEMO_IMAGE_REF;

  private static String why(ContainerdProcess ctd, Result r) {
    return r + "\n--- containerd log tail\n" + ctd.logTail(40);
  }

  @Test
  void importsTheDemoImage() throws Exception {
    try (ContainerdProcess ctd = new ContainerdProcess()) {
      ctd.importDemoImage();
      Result ls = ctd.ctr("images", "ls", "-q");
      assertEquals(0, ls.exitCode(), () -> why(ctd, ls));
      assertTrue(ls.stdout().lines().anyMatch(IMAGE::equals), () -> "image not listed: " + why(ctd, ls));
    }
  }

  @Test
  void runRmPassesStdoutAndExitCode() throws Exception {
    try (ContainerdProcess ctd = new ContainerdProcess()) {
      ctd.importDemoImage();
      Result r = ctd.ctr("run", "--rm", "--runtime", RUNC, IMAGE, "r1", "sh", "-c", "echo hello; exit 3");
      assertEquals(3, r.exitCode(), () -> why(ctd, r));
      assertEquals("hello\n", r.stdout(), () -> why(ctd, r));
      Result c = ctd.ctr("containers", "ls", "-q");
      assertEquals("", c.stdout().strip(), () -> "--rm left a container: " + why(ctd, c));
    }
  }

  @Test
  void detachedExecKillRm() throws Exception {
    try (ContainerdProcess ctd = new ContainerdProcess()) {
      ctd.importDemoImage();
      Result run = ctd.ctr("run", "-d", "--runtime", RUNC, IMAGE, "r2", "sleep", "600");
      assertEquals(0, run.exitCode(), () -> why(ctd, run));

      Result exec = ctd.ctr("task", "exec", "--exec-id", "e1", "r2", "echo", "hi");
      assertEquals(0, exec.exitCode(), () -> why(ctd, exec));
      assertEquals("hi\n", exec.stdout(), () -> why(ctd, exec));

      Result kill = ctd.ctr("task", "kill", "-s", "KILL", "r2");
      assertEquals(0, kill.exitCode(), () -> why(ctd, kill));
      // `task rm` refuses a task that is still running; the kill is asynchronous, so retry (bounded).
      Result rm = null;
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (System.nanoTime() < deadline) {
        rm = ctd.ctr("task", "rm", "r2");
        if (rm.exitCode() == 0) {
          break;
        }
        Thread.sleep(100);
      }
      Result lastRm = rm;
      assertEquals(0, lastRm.exitCode(), () -> why(ctd, lastRm));
      Result crm = ctd.ctr("containers", "rm", "r2");
      assertEquals(0, crm.exitCode(), () -> why(ctd, crm));
      Result tasks = ctd.ctr("task", "ls", "-q");
      assertEquals("", tasks.stdout().strip(), () -> why(ctd, tasks));
    }
  }

  @Test
  void terminalAndEvents() throws Exception {
    try (ContainerdProcess ctd = new ContainerdProcess()) {
      ctd.importDemoImage();
      try (Running events = ctd.events()) {
        Result r = ctd.ctrInTerminal(Duration.ofSeconds(120), null,
            "run", "-t", "--rm", "--runtime", RUNC, IMAGE, "t1", "sh", "-c", "tty; exit 4");
        assertEquals(4, r.exitCode(), () -> why(ctd, r));
        assertTrue(r.stdout().contains("/dev/pts/"), () -> "no terminal in the container: " + why(ctd, r));
        events.awaitStdout("/tasks/exit", Duration.ofSeconds(30));
        events.awaitStdout("/containers/delete", Duration.ofSeconds(30));
      }
    }
  }

  @Test
  void closeRemovesRunningTasksMountsAndDirectory() throws Exception {
    ContainerdProcess ctd = new ContainerdProcess(Map.of("ISOLA_IT_MARKER", "1"));
    Path dir = ctd.dir;
    List<ProcessHandle> shims;
    try {
      ctd.importDemoImage();
      Result run = ctd.ctr("run", "-d", "--runtime", RUNC, IMAGE, "left", "sleep", "600");
      assertEquals(0, run.exitCode(), () -> why(ctd, run));
      assertFalse(ContainerdProcess.mountsUnder(dir).isEmpty(), "the running container's rootfs should be mounted under " + dir);
      shims = ctd.shimProcesses();
      assertFalse(shims.isEmpty(), "no shim process found with -address " + ctd.socket);
      // The shim inherits containerd's environment, including PATH with <dir>/bin first and extra entries.
      long shimPid = shims.get(0).pid();
      List<String> environ = List.of(new String(Files.readAllBytes(Path.of("/proc/" + shimPid + "/environ")),
          StandardCharsets.UTF_8).split("\0"));
      assertTrue(environ.contains("ISOLA_IT_MARKER=1"), "extra env did not reach the shim: " + environ);
      // containerd's opt plugin prepends <opt>/bin itself; ours must still come before the system's.
      List<String> path = environ.stream().filter(e -> e.startsWith("PATH=")).findFirst()
          .map(e -> List.of(e.substring(5).split(":"))).orElse(List.of());
      assertTrue(path.contains(ctd.bin.toString()) && path.indexOf(ctd.bin.toString()) < path.indexOf("/usr/bin"),
          "shim PATH does not have " + ctd.bin + " before /usr/bin: " + path);
    } finally {
      ctd.close();
    }
    assertEquals(List.of(), ContainerdProcess.mountsUnder(dir), "mounts left after close()");
    assertFalse(Files.exists(dir), dir + " still exists after close()");
    for (ProcessHandle shim : shims) {
      assertFalse(ContainerdProcess.isRunning(shim), "shim " + shim.pid() + " still running after close()");
    }
    assertEquals(List.of(), ctd.leftovers, "close() reported leftovers");
  }
}
