package io.isola.ttrpc;

/**
 * A frame announced a payload larger than {@link Frame#MAX_PAYLOAD}. The reader has already
 * skipped the body, so the stream stays in sync and the peer can be answered on {@link #streamId()}.
 */
public final class FrameTooLargeException extends TtrpcProtocolException {
  private final int streamId;
  private final long length;

  FrameTooLargeException(int streamId, long length) {
    super("ttrpc frame on stream " + Integer.toUnsignedLong(streamId) + " announces " + length
        + " bytes, over the " + Frame.MAX_PAYLOAD + " byte limit");
    this.streamId = streamId;
    this.length = length;
  }

  public int streamId() {
    return streamId;
  }

  public long length() {
    return length;
  }
}
