package io.isola.it;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.CompletableFuture;

/**
 * Reads a child process's output on a daemon thread, so the child never blocks on a full pipe,
 * into a buffer a test may look at while the child runs (synchronize on it).
 */
public final class StreamDrain {
  private StreamDrain() {}

  /** Completes with everything read once the stream ends. */
  public static CompletableFuture<byte[]> drain(InputStream stream, ByteArrayOutputStream sink, String threadName) {
    CompletableFuture<byte[]> done = new CompletableFuture<>();
    Thread thread = new Thread(() -> {
      byte[] buffer = new byte[64 * 1024];
      try (stream) {
        int n;
        while ((n = stream.read(buffer)) >= 0) {
          synchronized (sink) {
            sink.write(buffer, 0, n);
          }
        }
        synchronized (sink) {
          done.complete(sink.toByteArray());
        }
      } catch (IOException e) {
        done.completeExceptionally(e);
      }
    }, threadName);
    thread.setDaemon(true);
    thread.start();
    return done;
  }
}
