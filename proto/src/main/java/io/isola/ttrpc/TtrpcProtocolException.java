package io.isola.ttrpc;

import java.io.IOException;

/** The peer broke the ttrpc wire format: truncated, oversized or undecodable frames. */
public class TtrpcProtocolException extends IOException {
  public TtrpcProtocolException(String message) {
    super(message);
  }

  public TtrpcProtocolException(String message, Throwable cause) {
    super(message, cause);
  }
}
