package io.isola.ttrpc;

/** A call finished with a non-OK status, from the peer or locally (deadline, closed channel). */
public final class TtrpcException extends Exception {
  /** Peer-supplied messages are cut to this length before they reach logs or users. */
  static final int MAX_MESSAGE = 4096;
  private final StatusCode code;

  public TtrpcException(StatusCode code, String message) {
    super(code + ": " + sanitize(message));
    this.code = code;
  }

  public TtrpcException(StatusCode code, String message, Throwable cause) {
    super(code + ": " + sanitize(message), cause);
    this.code = code;
  }

  public StatusCode code() {
    return code;
  }

  /** The message without the code prefix. */
  public String detail() {
    String m = getMessage();
    return m.substring(m.indexOf(": ") + 2);
  }

  /**
   * Messages may come from a hostile peer: bound them and escape control characters so that
   * they cannot forge log lines or terminal escape sequences.
   */
  static String sanitize(String message) {
    if (message == null) {
      return "";
    }
    StringBuilder out = new StringBuilder(Math.min(message.length(), MAX_MESSAGE));
    for (int i = 0; i < message.length() && out.length() < MAX_MESSAGE; i++) {
      char c = message.charAt(i);
      if (c == '\t' || (c >= 0x20 && c != 0x7f && !(c >= 0x80 && c < 0xa0))) {
        out.append(c);
      } else {
        out.append(String.format("\\x%02x", (int) c));
      }
    }
    if (message.length() > MAX_MESSAGE) {
      out.append("…");
    }
    return out.toString();
  }
}
