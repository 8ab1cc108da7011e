package io.isola.vmm.util;

import java.util.concurrent.TimeUnit;

/** Host processes isolad must end without a way to ask them (a QEMU it cannot manage). */
public final class HostProcesses {
  private static final long KILL_WAIT_SECONDS = 10;

  private HostProcesses() {}

  /** SIGKILL, then waits (bounded) until the kernel has reaped it. */
  public static void killAndWait(ProcessHandle process) {
    process.destroyForcibly();
    process.onExit().orTimeout(KILL_WAIT_SECONDS, TimeUnit.SECONDS).exceptionally(e -> null).join();
  }
}
