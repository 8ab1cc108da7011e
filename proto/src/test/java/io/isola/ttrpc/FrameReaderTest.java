package io.isola.ttrpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class FrameReaderTest {

  private static byte[] header(long length, int streamId, int type) {
    return ByteBuffer.allocate(10).putInt((int) length).putInt(streamId).put((byte) type).put((byte) 0).array();
  }

  private static FrameReader readerOf(byte[]... parts) {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      all.writeBytes(p);
    }
    return new FrameReader(Channels.newChannel(new ByteArrayInputStream(all.toByteArray())));
  }

  @Test
  void roundTripsAFrameThroughWriterAndReader() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    new FrameWriter(Channels.newChannel(out)).write(new Frame(7, Frame.TYPE_REQUEST, (byte) 0, new byte[] {1, 2, 3}));
    byte[] wire = out.toByteArray();
    assertArrayEquals(new byte[] {0, 0, 0, 3, 0, 0, 0, 7, 1, 0, 1, 2, 3}, wire);
    Frame frame = readerOf(wire).read();
    assertEquals(7, frame.streamId());
    assertEquals(Frame.TYPE_REQUEST, frame.type());
    assertArrayEquals(new byte[] {1, 2, 3}, frame.payload());
  }

  @Test
  void cleanEndOfStreamBetweenFramesIsNull() throws Exception {
    assertNull(readerOf().read());
  }

  @Test
  void oversizeLengthIsRefusedAndSkippedWithoutAllocating() throws Exception {
    long length = Frame.MAX_PAYLOAD + 1L;
    byte[] body = new byte[(int) length];
    byte[] next = header(1, 3, Frame.TYPE_REQUEST);
    FrameReader reader = readerOf(header(length, 5, Frame.TYPE_REQUEST), body, next, new byte[] {42});
    FrameTooLargeException e = assertThrows(FrameTooLargeException.class, reader::read);
    assertEquals(5, e.streamId());
    assertTrue(e.getMessage().contains("over the 4194304 byte limit"), e.getMessage());
    Frame after = reader.read();
    assertEquals(3, after.streamId(), "reader stays in sync after skipping the oversized body");
    assertArrayEquals(new byte[] {42}, after.payload());
  }

  @Test
  void hugeLengthWithNoBodyIsATruncationNotAnAllocation() {
    FrameReader reader = readerOf(header(0xFFFF_FFFFL, 1, Frame.TYPE_RESPONSE), new byte[100]);
    EOFException e = assertThrows(EOFException.class, reader::read);
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }

  @Test
  void truncatedPayloadIsAClearError() {
    FrameReader reader = readerOf(header(100, 1, Frame.TYPE_RESPONSE), new byte[40]);
    EOFException e = assertThrows(EOFException.class, reader::read);
    assertEquals("truncated ttrpc frame on stream 1: expected 100 payload bytes, got 40", e.getMessage());
  }

  @Test
  void truncatedHeaderIsAClearError() {
    FrameReader reader = readerOf(Arrays.copyOf(header(1, 1, 1), 6));
    EOFException e = assertThrows(EOFException.class, reader::read);
    assertTrue(e.getMessage().contains("6 of 10 header bytes"), e.getMessage());
  }

  @Test
  void writerRefusesOversizePayload() {
    assertThrows(IllegalArgumentException.class,
        () -> new Frame(1, Frame.TYPE_REQUEST, (byte) 0, new byte[Frame.MAX_PAYLOAD + 1]));
  }
}
