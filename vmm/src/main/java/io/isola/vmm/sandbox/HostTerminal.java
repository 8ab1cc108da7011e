package io.isola.vmm.sandbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The user's terminal in raw mode for `isola run -t`, so that keys (Ctrl-C included) reach
 * the container's terminal unchanged; restored on close. Uses stty on the inherited stdin
 * because the JDK has no termios API.
 */
final class HostTerminal implements AutoCloseable {
  private final String saved;

  private HostTerminal(String saved) {
    this.saved = saved;
  }

  /** Switches to raw mode if stdin and stdout are a terminal. */
  static Optional<HostTerminal> rawIfInteractive() {
    if (System.console() == null) {
      return Optional.empty();
    }
    try {
      String saved = stty("-g").strip();
      stty("raw", "-echo");
      return Optional.of(new HostTerminal(saved));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** Rows and columns of the user's terminal, if known. */
  static Optional<int[]> size() {
    try {
      String[] parts = stty("size").strip().split("\\s+");
      return Optional.of(new int[] {Integer.parseInt(parts[0]), Integer.parseInt(parts[1])});
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
  }

  private static String stty(String... args) throws IOException {
    String[] argv = new String[args.length + 1];
    argv[0] = "stty";
    System.arraycopy(args, 0, argv, 1, args.length);
    Process p = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.INHERIT)
        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    try {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(5, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IOException("stty " + String.join(" ", args) + " failed");
      }
      return out;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted");
    }
  }

  @Override
  public void close() {
    try {
      stty(saved);
    } catch (IOException e) {
      // the terminal stays raw; `reset` fixes it, nothing more we can do
    }
  }
}
