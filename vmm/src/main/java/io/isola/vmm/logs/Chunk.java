package io.isola.vmm.logs;

import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * One log record as read back: the stream and the bytes. An append may come back as several chunks (large writes
 * are split into frames), so callers must not rely on chunk boundaries. {@code data} is owned by the receiver.
 */
public record Chunk(LogStream stream, byte[] data) {
    public Chunk {
        Objects.requireNonNull(stream, "stream");
        Objects.requireNonNull(data, "data");
    }

    public String text() {
        return new String(data, StandardCharsets.UTF_8);
    }
}
