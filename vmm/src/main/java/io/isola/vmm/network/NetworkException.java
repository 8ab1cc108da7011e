package io.isola.vmm.network;

/** A sandbox network that cannot be set up as asked; the message says what to change. */
public final class NetworkException extends Exception {
  public NetworkException(String message) {
    super(message);
  }

  public NetworkException(String message, Throwable cause) {
    super(message, cause);
  }
}
