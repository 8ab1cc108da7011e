package io.isola.ttrpc;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;

/**
 * Reads ttrpc frames from a byte channel. Never allocates more than {@link Frame#MAX_PAYLOAD}
 * for one frame whatever the header claims: the peer may be a hostile guest.
 *
 * <p>Reads the channel directly rather than through {@code Channels.newInputStream}: on JDK 17
 * that stream and its output twin share the channel's blocking lock, so a reader parked in
 * read() would block every writer on the same socket.
 */
public final class FrameReader {
  private static final int SKIP_CHUNK = 64 * 1024;
  private final ReadableByteChannel channel;
  private final ByteBuffer header = ByteBuffer.allocate(Frame.HEADER_LENGTH).order(ByteOrder.BIG_ENDIAN);

  public FrameReader(ReadableByteChannel channel) {
    this.channel = channel;
  }

  /**
   * Returns the next frame, or null at a clean end of stream (EOF between frames).
   *
   * @throws FrameTooLargeException the frame was over the limit; its body has been skipped
   * @throws EOFException the stream ended inside a frame
   */
  public Frame read() throws IOException {
    header.clear();
    int got = fill(header);
    if (got == 0) {
      return null;
    }
    if (header.hasRemaining()) {
      throw new EOFException("truncated ttrpc frame: stream ended after " + got + " of "
          + Frame.HEADER_LENGTH + " header bytes");
    }
    header.flip();
    long length = Integer.toUnsignedLong(header.getInt());
    int streamId = header.getInt();
    byte type = header.get();
    byte flags = header.get();
    if (length > Frame.MAX_PAYLOAD) {
      skip(length);
      throw new FrameTooLargeException(streamId, length);
    }
    ByteBuffer payload = ByteBuffer.allocate((int) length);
    fill(payload);
    if (payload.hasRemaining()) {
      throw new EOFException("truncated ttrpc frame on stream " + Integer.toUnsignedLong(streamId)
          + ": expected " + length + " payload bytes, got " + payload.position());
    }
    return new Frame(streamId, type, flags, payload.array());
  }

  /** Reads until the buffer is full or the stream ends; returns the bytes read. */
  private int fill(ByteBuffer buffer) throws IOException {
    int total = 0;
    while (buffer.hasRemaining()) {
      int n = channel.read(buffer);
      if (n < 0) {
        break;
      }
      total += n;
    }
    return total;
  }

  private void skip(long length) throws IOException {
    ByteBuffer scratch = ByteBuffer.allocate((int) Math.min(SKIP_CHUNK, length));
    long left = length;
    while (left > 0) {
      scratch.clear();
      scratch.limit((int) Math.min(scratch.capacity(), left));
      int n = channel.read(scratch);
      if (n < 0) {
        throw new EOFException("truncated ttrpc frame: stream ended while skipping an oversized body");
      }
      left -= n;
    }
  }
}
