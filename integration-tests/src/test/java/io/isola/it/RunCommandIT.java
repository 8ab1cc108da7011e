package io.isola.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.common.hash.Hashing;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `isola run` end to end: the real launcher, real QEMU (TCG here), the real guest kernel,
 * agent and crun. After every test nothing may be left: no QEMU, no sandbox directory.
 */
class RunCommandIT {
  private static final int TIMEOUT = 180;
  @TempDir static Path roots;
  private static Path runRoot;
  private static Path stateRoot;
  private static String image;

  @BeforeAll
  static void paths() {
    runRoot = roots.resolve("run");
    stateRoot = roots.resolve("state");
    image = IsolaProcess.DEMO_IMAGE.toString();
    assertTrue(Files.isDirectory(IsolaProcess.DEMO_IMAGE), "demo image missing (make demo-image): " + image);
  }

  @AfterEach
  void nothingLeftBehind() throws Exception {
    assertEquals(List.of(), IsolaProcess.leftovers(runRoot), "runtime files left behind");
    assertEquals(List.of(), IsolaProcess.leftovers(stateRoot), "state left behind");
    assertEquals(List.of(), IsolaProcess.qemuProcessesUnder(roots), "QEMU processes left behind");
  }

  private IsolaProcess isola(String... args) throws Exception {
    return IsolaProcess.start(runRoot, stateRoot, args);
  }

  @Test
  void echoRoundTripAndGuestKernelIsNotTheHosts() throws Exception {
    var result = isola("run", "--rm", image, "--", "sh", "-c", "echo hello isola; uname -r; echo to-stderr >&2").await(TIMEOUT);
    assertEquals(0, result.exitCode(), result.toString());
    String[] lines = result.stdout().split("\n");
    assertEquals("hello isola", lines[0], result.toString());
    String guestKernel = lines[1];
    String hostKernel = System.getProperty("os.version");
    assertNotEquals(hostKernel, guestKernel, "the container must run on the guest's kernel");
    assertTrue(guestKernel.matches("\\d+\\.\\d+\\.\\d+-\\d+-amd64"), "a Debian kernel release: " + guestKernel);
    assertTrue(result.stderr().contains("to-stderr"), result.toString());
  }

  @Test
  void exitCodeIsPropagated() throws Exception {
    var result = isola("run", "--rm", image, "--", "sh", "-c", "exit 7").await(TIMEOUT);
    assertEquals(7, result.exitCode(), result.toString());
  }

  @Test
  void missingCommandIs127WithAClearMessage() throws Exception {
    var result = isola("run", "--rm", image, "--", "no-such-command").await(TIMEOUT);
    assertEquals(127, result.exitCode(), result.toString());
    assertTrue(result.stderr().contains("no-such-command"), result.toString());
  }

  @Test
  void stdinRoundTripsWithInteractive() throws Exception {
    byte[] input = "line one\nline two\n".repeat(1000).getBytes(StandardCharsets.UTF_8);
    var result = isola("run", "--rm", "-i", image, "--", "sh", "-c", "cat; echo END").feed(input).await(TIMEOUT);
    assertEquals(0, result.exitCode(), result.stderr());
    assertEquals(new String(input, StandardCharsets.UTF_8) + "END\n", result.stdout(), "stdin came back intact, then EOF");
  }

  @Test
  void sixtyFourMebibytesOfStdoutArriveIntact() throws Exception {
    // A deterministic, incompressible stream generated in the guest; its checksum is compared
    // with the same stream generated here.
    var result = isola("run", "--rm", image, "--", "sh", "-c",
        "dd if=/dev/zero bs=1M count=64 2>/dev/null | tr '\\000' 'x'").await(TIMEOUT);
    assertEquals(0, result.exitCode(), result.stderr());
    assertEquals(64 << 20, result.stdoutBytes().length);
    byte[] expected = new byte[64 << 20];
    java.util.Arrays.fill(expected, (byte) 'x');
    assertEquals(Hashing.sha256().hashBytes(expected), Hashing.sha256().hashBytes(result.stdoutBytes()));
  }

  @Test
  void threeSandboxesAtOnce() throws Exception {
    List<IsolaProcess> runs = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      runs.add(isola("run", "--rm", image, "--", "sh", "-c", "cat /proc/sys/kernel/random/boot_id; exit " + (10 + i)));
    }
    List<String> bootIds = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      var result = runs.get(i).await(TIMEOUT);
      assertEquals(10 + i, result.exitCode(), result.toString());
      bootIds.add(result.stdout().strip());
    }
    assertEquals(3, bootIds.stream().distinct().count(), "three separate guest kernels: " + bootIds);
  }

  @Test
  void qemuKilledMidRunIsAClearErrorAndLeavesNothing() throws Exception {
    IsolaProcess run = isola("run", "--rm", image, "--", "sh", "-c", "echo started; sleep 600");
    List<ProcessHandle> qemu = List.of();
    for (int i = 0; i < 600 && qemu.isEmpty(); i++) {
      TimeUnit.MILLISECONDS.sleep(100);
      qemu = IsolaProcess.qemuProcessesUnder(roots);
    }
    assertEquals(1, qemu.size(), "one QEMU for the sandbox");
    waitForOutput(run, TIMEOUT);
    qemu.get(0).destroyForcibly();
    var result = run.await(TIMEOUT);
    assertEquals(125, result.exitCode(), result.toString());
    assertTrue(result.stderr().contains("killed by signal 9"), result.toString());
  }

  @Test
  void interruptReachesTheContainer() throws Exception {
    IsolaProcess run = isola("run", "--rm", image, "--", "sh", "-c",
        "trap 'echo got INT; exit 3' INT; echo started; while true; do sleep 1; done");
    waitForOutput(run, TIMEOUT);
    new ProcessBuilder("kill", "-INT", Long.toString(run.process.pid())).start().waitFor();
    var result = run.await(TIMEOUT);
    assertEquals(3, result.exitCode(), result.toString());
    assertTrue(result.stdout().contains("got INT"), result.toString());
  }

  @Test
  void ttyGivesTheContainerATerminal() throws Exception {
    // script(1) gives isola a terminal of its own, as a user's shell would.
    String command = String.join(" ", IsolaProcess.PROJECT.resolve("bin/isola").toString(), "run", "--rm", "-t", image,
        "--", "sh", "-c", "'tty; echo TERM=$TERM'");
    ProcessBuilder builder = new ProcessBuilder("script", "-qec", command, "/dev/null");
    builder.environment().put("ISOLA_RUN_ROOT", runRoot.toString());
    builder.environment().put("ISOLA_STATE_ROOT", stateRoot.toString());
    builder.environment().put("ISOLA_CATALOG", IsolaProcess.PROJECT.resolve("guest-image/out/catalog.json").toString());
    builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).redirectErrorStream(true);
    Process process = builder.start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(process.waitFor(TIMEOUT, TimeUnit.SECONDS));
    assertEquals(0, process.exitValue(), output);
    assertTrue(output.contains("/dev/pts/"), "the container's stdout is a terminal: " + output);
    assertTrue(output.contains("TERM=xterm"), output);
  }

  /** The container has started once it printed "started". */
  private static void waitForOutput(IsolaProcess run, int seconds) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      if (run.stdoutSoFar().contains("started") || !run.process.isAlive()) {
        return;
      }
      TimeUnit.MILLISECONDS.sleep(100);
    }
    throw new AssertionError("the container printed nothing within " + seconds + " s");
  }

}
