package io.isola.vmm.logs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * Appends framed records to the newest segment of a log directory, rotating at the size cap and keeping the newest
 * {@code keepFiles} segments. One writer per directory (the daemon owns it); appends are thread-safe.
 *
 * <p>Records are not fsynced one by one: a log is diagnostic output, and an fsync per line would throttle the
 * container. A crash may lose the tail; it cannot leave a record readers would misparse, because frames carry a
 * length and CRC and reopening truncates whatever follows the last intact frame.
 */
public final class LogWriter implements AutoCloseable {
    private final Path dir;
    private final long maxFileBytes;
    private final int keepFiles;
    private final int maxFrameData;
    private final LogSignal signal;
    private FileChannel ch;
    private long seq;
    private long size;
    private boolean closed;

    private LogWriter(Path dir, long maxFileBytes, int keepFiles) {
        this.dir = dir;
        this.maxFileBytes = maxFileBytes;
        this.keepFiles = keepFiles;
        this.maxFrameData = (int) Math.min(LogFrame.MAX_DATA, maxFileBytes - LogFrame.HEADER);
        this.signal = LogSignal.forDir(dir);
    }

    /** Opens the log for appending, creating it, or continuing one left by an earlier writer (or a crash). */
    static LogWriter open(Path dir, long maxFileBytes, int keepFiles) throws IOException {
        if (maxFileBytes <= LogFrame.HEADER) {
            throw new IllegalArgumentException("maxFileBytes must exceed the " + LogFrame.HEADER + "-byte header");
        }
        if (keepFiles < 1) {
            throw new IllegalArgumentException("keepFiles must be at least 1");
        }
        LogWriter w = new LogWriter(dir, maxFileBytes, keepFiles);
        w.recover();
        return w;
    }

    private void recover() throws IOException {
        Files.createDirectories(dir);
        // Appending again (daemon restarted, container restarted): followers must not stop at the old marker.
        Files.deleteIfExists(LogFiles.closedMarker(dir));
        List<Long> segs = LogFiles.segments(dir);
        seq = segs.isEmpty() ? 1 : segs.get(segs.size() - 1);
        ch = FileChannel.open(LogFiles.segment(dir, seq), StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        size = LogFrame.validEnd(ch);
        if (size < ch.size()) {
            ch.truncate(size); // the torn record of a writer that died mid-append
            ch.force(true);
        }
        prune();
    }

    public void append(LogStream stream, byte[] data) throws IOException {
        append(stream, data, 0, data.length);
    }

    /** Appends {@code len} bytes, split into frames no larger than the cap allows; zero bytes write nothing. */
    public synchronized void append(LogStream stream, byte[] data, int off, int len) throws IOException {
        if (closed) {
            throw new IllegalStateException("log " + dir + " is closed");
        }
        for (int done = 0; done < len; ) {
            int n = Math.min(len - done, maxFrameData);
            ByteBuffer frame = LogFrame.encode(stream, data, off + done, n);
            if (size > 0 && size + frame.remaining() > maxFileBytes) {
                rotate();
            }
            while (frame.hasRemaining()) {
                size += ch.write(frame, size);
            }
            done += n;
        }
        signal.signal();
    }

    private void rotate() throws IOException {
        ch.close();
        seq++;
        size = 0;
        // CREATE_NEW: the new segment must not exist; a stray one would mean two writers.
        ch = FileChannel.open(LogFiles.segment(dir, seq), StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        prune();
    }

    private void prune() throws IOException {
        List<Long> segs = LogFiles.segments(dir);
        for (int i = 0; i < segs.size() - keepFiles; i++) {
            Files.deleteIfExists(LogFiles.segment(dir, segs.get(i)));
        }
    }

    /** Ends the log: flushes it to disk and marks it closed, which ends every follower once it has read all. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            ch.force(true);
            ch.close();
            Files.write(LogFiles.closedMarker(dir), new byte[0]);
        } finally {
            signal.signal();
        }
    }
}
