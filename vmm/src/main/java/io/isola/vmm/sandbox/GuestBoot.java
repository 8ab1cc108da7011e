package io.isola.vmm.sandbox;

import java.time.Duration;

/** How sandbox guests are booted: kernel command line and deadlines. */
public final class GuestBoot {
  /**
   * The guest kernel command line. console=ttyS0 keeps a console log for diagnostics; quiet keeps
   * printing to it (slow under emulation) short; panic=-1 turns a guest panic into a VM exit
   * instead of a hang; cryptomgr.notests skips boot-time self-tests of crypto the guest hardly
   * uses; there is one UART. No mitigation is switched off: the guest runs hostile code.
   */
  public static final String KERNEL_ARGS = "console=ttyS0 quiet panic=-1 cryptomgr.notests 8250.nr_uarts=1";

  /** Boot plus agent start; generous because software emulation on a busy host is slow. */
  public static final Duration BOOT_DEADLINE = Duration.ofSeconds(60);

  private GuestBoot() {}
}
