package io.isola.vmm.sandbox;

/** Exit codes of `isola run`, as `docker run` uses them. */
public final class ExitCodes {
  /** The runtime failed: bad arguments, no image, the VM did not boot, QEMU died. */
  public static final int RUNTIME_ERROR = 125;
  /** The command exists but cannot be executed. */
  public static final int NOT_EXECUTABLE = 126;
  /** The command was not found. */
  public static final int NOT_FOUND = 127;

  private ExitCodes() {}
}
