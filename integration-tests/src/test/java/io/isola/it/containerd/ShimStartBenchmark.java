package io.isola.it.containerd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.isola.it.IsoladAccess;
import io.isola.it.containerd.ContainerdProcess.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ctr run --rm IMG true} with runc and with isola, interleaved in one containerd, median of
 * {@code isola.bench.runs} rounds; and the resident memory of one pod's shim. Not part of the
 * suite (it asserts only that every run succeeded): {@code make bench-shim}.
 */
@EnabledIfSystemProperty(named = "isola.bench", matches = "true")
class ShimStartBenchmark {
  @TempDir static Path dir;

  @Test
  void ctrRunRmTrueIsolaBesideRunc() throws Exception {
    int runs = Integer.getInteger("isola.bench.runs", 5);
    try (IsoladAccess.Started isolad = IsoladAccess.start(dir);
        ContainerdProcess ctd = new ContainerdProcess(Map.of("ISOLA_SOCKET", isolad.socket().toString()))) {
      ctd.importDemoImage();
      List<Long> runc = new ArrayList<>();
      List<Long> isola = new ArrayList<>();
      for (int i = 0; i < runs; i++) {
        runc.add(timedRun(ctd, "io.containerd.runc.v2", "bench-runc-" + i));
        isola.add(timedRun(ctd, ContainerdProcess.RUNTIME, "bench-isola-" + i));
      }
      Result run = ctd.ctr(Duration.ofSeconds(180), "run", "-d", "--runtime", ContainerdProcess.RUNTIME,
          ContainerdProcess.DEMO_IMAGE_REF, "bench-rss", "sleep", "600");
      assertEquals(0, run.exitCode(), run::toString);
      Thread.sleep(2000);
      long rssKib = 0;
      for (ProcessHandle shim : ctd.shimProcesses()) {
        rssKib += rssKib(shim.pid());
      }
      ctd.ctr("task", "kill", "-s", "SIGKILL", "bench-rss");
      System.out.printf("%nctr run --rm IMG true (%d interleaved rounds, one containerd)%n", runs);
      System.out.printf("  %-8s median %6d ms  min %6d  max %6d%n", "runc", median(runc), min(runc), max(runc));
      System.out.printf("  %-8s median %6d ms  min %6d  max %6d%n", "isola", median(isola), min(isola), max(isola));
      System.out.printf("  ratio isola / runc: %.1f%n", (double) median(isola) / median(runc));
      System.out.printf("shim resident memory for one pod: %d MiB%n%n", rssKib / 1024);
    }
  }

  private static long timedRun(ContainerdProcess ctd, String runtime, String id) throws Exception {
    long start = System.nanoTime();
    Result r = ctd.ctr(Duration.ofSeconds(180), "run", "--rm", "--runtime", runtime, ContainerdProcess.DEMO_IMAGE_REF,
        id, "true");
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertEquals(0, r.exitCode(), () -> runtime + ": " + r + "\n" + ctd.logTail(30));
    return ms;
  }

  private static long rssKib(long pid) throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return 0;
  }

  private static long median(List<Long> xs) {
    List<Long> s = new ArrayList<>(xs);
    Collections.sort(s);
    return s.get(s.size() / 2);
  }

  private static long min(List<Long> xs) {
    return Collections.min(xs);
  }

  private static long max(List<Long> xs) {
    return Collections.max(xs);
  }
}
