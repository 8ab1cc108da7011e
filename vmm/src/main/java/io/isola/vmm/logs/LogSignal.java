package io.isola.vmm.logs;

import com.google.common.cache.CacheBuilder;
import com.google.common.cache.CacheLoader;
import com.google.common.cache.LoadingCache;
import java.nio.file.Path;

/**
 * In-process "the log changed" notification, so a follower in the daemon wakes when its writer appends instead of
 * polling. One signal per directory, shared by the writer and followers that hold it; values are weak so signals
 * of finished containers are collected. Waits are bounded, which also covers a writer in another process.
 */
final class LogSignal {
    private static final LoadingCache<Path, LogSignal> SIGNALS =
            CacheBuilder.newBuilder().weakValues().build(CacheLoader.from(LogSignal::new));

    private long generation;

    static LogSignal forDir(Path dir) {
        return SIGNALS.getUnchecked(dir.toAbsolutePath().normalize());
    }

    synchronized long generation() {
        return generation;
    }

    synchronized void signal() {
        generation++;
        notifyAll();
    }

    /** Waits until the generation moves past {@code seen} or {@code maxMillis} pass. */
    synchronized void await(long seen, long maxMillis) throws InterruptedException {
        long deadline = System.nanoTime() + maxMillis * 1_000_000L;
        while (generation == seen) {
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0) {
                return;
            }
            wait(left);
        }
    }
}
