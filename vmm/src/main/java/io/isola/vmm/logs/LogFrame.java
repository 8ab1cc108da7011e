package io.isola.vmm.logs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.zip.CRC32C;

/**
 * The on-disk record: {@code [u8 stream][u32 length][u32 crc32c][length bytes]}, big-endian.
 *
 * <p>The length alone would catch a record cut short by a crash; the CRC (over the stream byte and the data) also
 * catches the other crash artefact, a file whose size grew but whose last blocks read back as zeros or stale data.
 * Either way decoding stops at the last good record, which is exactly the prefix a reader may trust.
 */
final class LogFrame {
    static final int HEADER = 1 + 4 + 4;
    /** Bounded so a reader never allocates more than this for a record, whatever a corrupt length says. */
    static final int MAX_DATA = 64 * 1024;

    private LogFrame() {
    }

    static ByteBuffer encode(LogStream stream, byte[] data, int off, int len) {
        ByteBuffer b = ByteBuffer.allocate(HEADER + len);
        b.put(stream.code).putInt(len).putInt(crc(stream.code, data, off, len)).put(data, off, len);
        return b.flip();
    }

    /** A decoded frame and where the next one starts. */
    record Decoded(Chunk chunk, long next) {
    }

    /**
     * Decodes the frame at {@code pos}, or returns null if there is no complete, intact frame there (end of file,
     * a record still being written, or a torn/corrupt one: the caller decides which from context).
     */
    static Decoded read(FileChannel ch, long pos) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(HEADER);
        if (!readFully(ch, h, pos)) {
            return null;
        }
        h.flip();
        LogStream stream = LogStream.ofCode(h.get());
        int len = h.getInt();
        int crc = h.getInt();
        if (stream == null || len < 0 || len > MAX_DATA) {
            return null;
        }
        ByteBuffer d = ByteBuffer.allocate(len);
        if (!readFully(ch, d, pos + HEADER)) {
            return null;
        }
        byte[] data = d.array();
        if (crc(stream.code, data, 0, len) != crc) {
            return null;
        }
        return new Decoded(new Chunk(stream, data), pos + HEADER + len);
    }

    /** The end of the last intact frame: where a writer reopening after a crash must truncate. */
    static long validEnd(FileChannel ch) throws IOException {
        long pos = 0;
        for (Decoded d; (d = read(ch, pos)) != null; ) {
            pos = d.next();
        }
        return pos;
    }

    private static boolean readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, pos + b.position());
            if (n < 0) {
                return false;
            }
        }
        return true;
    }

    private static int crc(byte stream, byte[] data, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(stream);
        c.update(data, off, len);
        return (int) c.getValue();
    }
}
