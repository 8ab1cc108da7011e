package io.isola.vmm.sandbox;

import io.isola.ttrpc.TtrpcException;
import java.util.concurrent.atomic.AtomicInteger;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * SIGINT and SIGTERM to isola: the first one is passed on to the container's init process, so
 * that it can exit cleanly; a second one (or one before the container runs) tears the VM down.
 * Either way the run unwinds through its cleanup, leaving nothing behind.
 */
final class SignalForwarder {
  private static final String[] NAMES = {"INT", "TERM"};

  private final String containerId;
  private final Thread mainThread = Thread.currentThread();
  private final AtomicInteger received = new AtomicInteger();
  private volatile Sandbox sandbox;
  private volatile int forced;
  private final SignalHandler[] previous = new SignalHandler[NAMES.length];
  private volatile SignalHandler winch;

  SignalForwarder(String containerId) {
    this.containerId = containerId;
  }

  void install() {
    for (int i = 0; i < NAMES.length; i++) {
      previous[i] = Signal.handle(new Signal(NAMES[i]), this::onSignal);
    }
  }

  /** Runs {@code action} on SIGWINCH (the user's terminal changed size). */
  void onWindowChange(Runnable action) {
    winch = Signal.handle(new Signal("WINCH"), signal -> action.run());
  }

  void attach(Sandbox sandbox) {
    this.sandbox = sandbox;
  }

  void uninstall() {
    if (winch != null) {
      Signal.handle(new Signal("WINCH"), winch);
    }
    for (int i = 0; i < NAMES.length; i++) {
      if (previous[i] != null) {
        Signal.handle(new Signal(NAMES[i]), previous[i]);
      }
    }
  }

  /** The signal that forced a teardown, or 0. */
  int forcedTeardown() {
    return forced;
  }

  private void onSignal(Signal signal) {
    Sandbox current = sandbox;
    if (current == null || received.incrementAndGet() > 1) {
      forced = signal.getNumber();
      if (current != null) {
        current.close(); // unblocks every pending agent call
      } else {
        mainThread.interrupt(); // still booting: abandon the boot
      }
      return;
    }
    Thread forward = new Thread(() -> {
      try {
        current.agent().signal(containerId, "", signal.getNumber());
      } catch (TtrpcException e) {
        forced = signal.getNumber();
        current.close();
      }
    }, "signal-forward");
    forward.setDaemon(true);
    forward.start();
  }
}
