package io.isola.vmm.sandbox;

/** A sandbox could not be created or lost its VM; the message says what to do. */
public final class SandboxException extends Exception {
  public SandboxException(String message) {
    super(message);
  }

  public SandboxException(String message, Throwable cause) {
    super(message, cause);
  }
}
