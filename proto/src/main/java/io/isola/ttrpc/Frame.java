package io.isola.ttrpc;

/**
 * One ttrpc frame: a 10-byte big-endian header (payload length, stream id, type, flags)
 * followed by {@code payload}. The payload is a protobuf {@code ttrpc.Request} or
 * {@code ttrpc.Response}.
 */
public record Frame(int streamId, byte type, byte flags, byte[] payload) {
  public static final int HEADER_LENGTH = 10;
  /** ttrpc's limit on a frame's payload (4 MiB); larger frames are refused, never allocated. */
  public static final int MAX_PAYLOAD = 4 << 20;
  public static final byte TYPE_REQUEST = 1;
  public static final byte TYPE_RESPONSE = 2;

  public Frame {
    if (payload.length > MAX_PAYLOAD) {
      throw new IllegalArgumentException(
          "ttrpc payload of " + payload.length + " bytes exceeds the " + MAX_PAYLOAD + " byte limit");
    }
  }

  /** Stream ids are unsigned on the wire; this is the id as a non-negative long for messages. */
  public long unsignedStreamId() {
    return Integer.toUnsignedLong(streamId);
  }
}
