package io.isola.vmm.sandbox;

import java.time.Duration;

/** How sandbox guests are booted: kernel command line and deadlines. */
public final class GuestBoot {
  /**
   * The guest kernel command line. console=ttyS0 keeps a console log for diagnostics; quiet keeps
   * printing to it (slow under emulation) short; panic=-1 turns a guest panic into a VM exit
   * instead of a hang. No mitigation is switched off: the guest runs hostile code.
   */
  public static final String KERNEL_ARGS = "console=ttyS0 quiet panic=-1";

  /** Boot plus agent start; generous because software emulation on a busy host is slow. */
  public static final Duration BOOT_DEADLINE = Duration.ofSeconds(60);

  private GuestBoot() {}
}
