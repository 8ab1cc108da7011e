package io.isola.vmm.state;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Measures what synchronous=FULL costs per put on this disk (figure quoted in docs/state-store.md). */
class PutLatencyTest {
    @TempDir
    Path tmp;

    @Test
    void medianPutLatency() {
        int n = 200;
        long[] nanos = new long[n];
        try (StateStore store = StateStore.open(tmp.resolve("isolad.db"))) {
            for (int i = 0; i < n; i++) {
                long t0 = System.nanoTime();
                store.putSandbox(Records.sandbox("s" + i, "t"));
                nanos[i] = System.nanoTime() - t0;
            }
        }
        Arrays.sort(nanos);
        System.out.printf("state store put latency (synchronous=FULL, %d puts): median %.3f ms, p90 %.3f ms,"
                + " max %.3f ms%n", n, nanos[n / 2] / 1e6, nanos[n * 9 / 10] / 1e6, nanos[n - 1] / 1e6);
        assertTrue(nanos[n / 2] > 0);
    }
}
