package io.isola.ttrpc;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;

/** Writes whole ttrpc frames; safe for concurrent callers (one frame at a time). */
public final class FrameWriter {
  private final WritableByteChannel channel;

  public FrameWriter(WritableByteChannel channel) {
    this.channel = channel;
  }

  public synchronized void write(Frame frame) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate(Frame.HEADER_LENGTH + frame.payload().length)
        .order(ByteOrder.BIG_ENDIAN);
    buffer.putInt(frame.payload().length)
        .putInt(frame.streamId())
        .put(frame.type())
        .put(frame.flags())
        .put(frame.payload())
        .flip();
    while (buffer.hasRemaining()) {
      channel.write(buffer);
    }
  }
}
