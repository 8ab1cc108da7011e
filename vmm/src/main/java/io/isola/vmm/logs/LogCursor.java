package io.isola.vmm.logs;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.function.Consumer;

/**
 * A reader's position in a log directory: (segment, offset). {@link #pump} delivers every intact record from
 * there on, moving to newer segments as it goes.
 *
 * <p>A segment is left only after seeing that a newer one exists and then reading the old one to its end once
 * more: the writer creates segment n+1 only after its last write to n, so that second pass sees everything n will
 * ever hold (nothing lost), and the offset makes sure nothing is delivered twice. What is left unreadable at the
 * end of a finished segment is a torn record and is skipped. The open channel keeps a segment readable even if
 * rotation deletes it meanwhile; a segment deleted before we got to it is gone (the reader was slower than the
 * retention allows).
 */
final class LogCursor implements AutoCloseable {
    private final Path dir;
    private long seq = -1;
    private long pos;
    private FileChannel ch;

    LogCursor(Path dir) {
        this.dir = dir;
    }

    /** Delivers what is readable now; returns whether anything was delivered. */
    boolean pump(Consumer<Chunk> sink) throws IOException {
        boolean delivered = false;
        while (true) {
            if (ch == null && !openAtOrAfter(seq < 0 ? 0 : seq)) {
                return delivered;
            }
            delivered |= drain(sink);
            Long next = nextSegment();
            if (next == null) {
                return delivered;
            }
            delivered |= drain(sink); // seq is final now: pick up what was written before the rotation
            ch.close();
            ch = null;
            seq = next;
            pos = 0;
        }
    }

    private boolean drain(Consumer<Chunk> sink) throws IOException {
        boolean any = false;
        for (LogFrame.Decoded d; (d = LogFrame.read(ch, pos)) != null; ) {
            pos = d.next();
            sink.accept(d.chunk());
            any = true;
        }
        return any;
    }

    private Long nextSegment() throws IOException {
        for (long s : LogFiles.segments(dir)) {
            if (s > seq) {
                return s;
            }
        }
        return null;
    }

    /** Opens the oldest segment numbered at least {@code min}; false if there is none. */
    private boolean openAtOrAfter(long min) throws IOException {
        while (true) {
            List<Long> segs = LogFiles.segments(dir);
            Long pick = segs.stream().filter(s -> s >= min).findFirst().orElse(null);
            if (pick == null) {
                return false;
            }
            try {
                ch = FileChannel.open(LogFiles.segment(dir, pick), StandardOpenOption.READ);
            } catch (NoSuchFileException e) {
                continue; // rotated away between listing and opening: list again
            }
            if (pick != seq) {
                seq = pick;
                pos = 0;
            }
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        if (ch != null) {
            ch.close();
            ch = null;
        }
    }
}
