package io.isola.vmm.jail;

import java.io.IOException;

/** A sandbox's hypervisor cannot be confined as configured; the message says what to change. */
public final class JailException extends IOException {
  public JailException(String message) {
    super(message);
  }

  public JailException(String message, Throwable cause) {
    super(message, cause);
  }
}
