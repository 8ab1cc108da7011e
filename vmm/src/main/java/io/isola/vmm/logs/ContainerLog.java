package io.isola.vmm.logs;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The stdout/stderr log of one container or exec, kept in its own directory so it stays readable after the
 * process exited (and after an isolad restart). Size-capped: at most {@code keepFiles} segments of at most
 * {@code maxFileBytes} each (default 3 x 10 MiB); older output is dropped.
 *
 * <p>Layout: {@code <state_root>/sandboxes/<sid>/logs/<cid>/} for a container and
 * {@code .../logs/<cid>/execs/<eid>/} for an exec; see {@link LogFiles} for the files inside.
 */
public final class ContainerLog {
    public static final long DEFAULT_MAX_FILE_BYTES = 10L * 1024 * 1024;
    public static final int DEFAULT_KEEP_FILES = 3;
    /** Upper bound on a follower's sleep when nothing signals it (writer in another process). */
    static final long FOLLOW_WAIT_MILLIS = 200;

    private final Path dir;
    private final long maxFileBytes;
    private final int keepFiles;

    private ContainerLog(Path dir, long maxFileBytes, int keepFiles) {
        this.dir = dir.toAbsolutePath().normalize();
        this.maxFileBytes = maxFileBytes;
        this.keepFiles = keepFiles;
    }

    public static ContainerLog at(Path dir) {
        return new ContainerLog(dir, DEFAULT_MAX_FILE_BYTES, DEFAULT_KEEP_FILES);
    }

    public static ContainerLog at(Path dir, long maxFileBytes, int keepFiles) {
        return new ContainerLog(dir, maxFileBytes, keepFiles);
    }

    public static Path containerDir(Path stateRoot, String sandboxId, String containerId) {
        return stateRoot.resolve("sandboxes").resolve(sandboxId).resolve("logs").resolve(containerId);
    }

    public static Path execDir(Path stateRoot, String sandboxId, String containerId, String execId) {
        return containerDir(stateRoot, sandboxId, containerId).resolve("execs").resolve(execId);
    }

    public Path dir() {
        return dir;
    }

    /** Opens the writer (one per log); reopening after a crash truncates a torn last record. */
    public LogWriter openWriter() throws IOException {
        return LogWriter.open(dir, maxFileBytes, keepFiles);
    }

    /** True once the writer closed the log (the process exited and its output is complete). */
    public boolean isClosed() {
        return Files.exists(LogFiles.closedMarker(dir));
    }

    /** Delivers every kept record, oldest first, up to the current end (a torn last record is ignored). */
    public void read(Consumer<Chunk> sink) throws IOException {
        try (LogCursor cursor = new LogCursor(dir)) {
            cursor.pump(sink);
        }
    }

    /**
     * Delivers every kept record and then new ones as they are appended, until the writer closes the log (after
     * the last record is delivered) or {@code stop} returns true. Sleeps on the writer's in-process signal, at
     * most {@link #FOLLOW_WAIT_MILLIS} at a time, so {@code stop} is checked at least that often.
     */
    public void follow(Consumer<Chunk> sink, BooleanSupplier stop) throws IOException, InterruptedException {
        LogSignal signal = LogSignal.forDir(dir);
        try (LogCursor cursor = new LogCursor(dir)) {
            while (!stop.getAsBoolean()) {
                long seen = signal.generation();
                // Look at the marker BEFORE reading: the writer creates it after its last record, so if it is
                // there now, the pump below reads everything there will ever be.
                boolean closed = isClosed();
                boolean delivered = cursor.pump(sink);
                if (closed) {
                    return;
                }
                if (!delivered) {
                    signal.await(seen, FOLLOW_WAIT_MILLIS);
                }
            }
        }
    }
}
