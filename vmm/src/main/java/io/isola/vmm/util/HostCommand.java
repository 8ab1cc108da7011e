package io.isola.vmm.util;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs a short host tool (ip, tc, mount) with a deadline; a failure carries its stderr. */
public final class HostCommand {
  private static final long DEADLINE_SECONDS = 20;

  private HostCommand() {}

  /** The command's stdout; IOException naming the command and its stderr when it fails. */
  public static String run(List<String> argv) throws IOException {
    Process p = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
        .start();
    CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
    CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
    try {
      if (!p.waitFor(DEADLINE_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(String.join(" ", argv) + " did not finish within " + DEADLINE_SECONDS + " s");
      }
      String stdout = new String(out.get(5, TimeUnit.SECONDS), StandardCharsets.UTF_8);
      if (p.exitValue() != 0) {
        String stderr = new String(err.get(5, TimeUnit.SECONDS), StandardCharsets.UTF_8).strip();
        throw new IOException(String.join(" ", argv) + " failed (status " + p.exitValue() + "): " + stderr);
      }
      return stdout;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      throw new IOException("interrupted running " + argv.get(0), e);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw new IOException("cannot read the output of " + argv.get(0) + ": " + e, e);
    }
  }

  private static byte[] readAll(java.io.InputStream in) {
    try (in) {
      return in.readNBytes(1 << 20);
    } catch (IOException e) {
      return new byte[0];
    }
  }
}
