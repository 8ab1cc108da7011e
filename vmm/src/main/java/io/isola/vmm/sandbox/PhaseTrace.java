package io.isola.vmm.sandbox;

import java.io.PrintStream;

/**
 * Prints how long each phase of a run took, when ISOLA_TRACE=1: the first tool to reach for
 * when a start is slow.
 */
final class PhaseTrace {
  private final PrintStream out;
  private final boolean enabled = "1".equals(System.getenv("ISOLA_TRACE"));
  private final long start = System.nanoTime();
  private long last = start;

  PhaseTrace(PrintStream out) {
    this.out = out;
  }

  void mark(String phase) {
    if (!enabled) {
      return;
    }
    long now = System.nanoTime();
    out.printf("isola: trace: %-22s %6d ms (total %6d ms since JVM start %d ms)%n", phase, (now - last) / 1_000_000,
        (now - start) / 1_000_000, java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime());
    last = now;
  }
}
