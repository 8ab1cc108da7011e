package io.isola.shim;

import com.google.protobuf.ByteString;
import java.io.Closeable;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Logger;

/**
 * One process's stdio towards containerd, as containerd names it in Create/Exec:
 * <ul>
 *   <li>a path: a FIFO (opened read-write, so the open never blocks and a reader that goes away
 *       raises no SIGPIPE, like runc's extra read handle) or a regular file (appended to);</li>
 *   <li>{@code file:///path}: stdout and stderr appended to that file;</li>
 *   <li>{@code binary:///path?k=v}: a logging driver started with fd 3 = stdout, fd 4 = stderr,
 *       fd 5 = a "ready" pipe it closes (or writes a byte to) once it reads;</li>
 *   <li>"": not attached.</li>
 * </ul>
 * stdin is read from its FIFO by {@link #openStdin()}.
 */
final class Stdio implements Closeable {
  private static final Logger LOG = Logger.getLogger(Stdio.class.getName());

  private final FileChannel out;
  private final FileChannel err;
  private final String stdinPath;
  private final List<Closeable> closers = new ArrayList<>();
  private volatile FileChannel stdin;
  private volatile boolean closed;
  private volatile boolean stdinClosed;

  private Stdio(FileChannel out, FileChannel err, String stdinPath) {
    this.out = out;
    this.err = err;
    this.stdinPath = stdinPath;
  }

  static Stdio open(String stdin, String stdout, String stderr, String namespace, String containerId)
      throws IOException {
    if (stdout.startsWith("binary://")) {
      return binary(stdin, stdout, namespace, containerId);
    }
    FileChannel out = sink(stdout);
    FileChannel err;
    if (!stderr.isEmpty() && stderr.equals(stdout)) {
      err = out; // file:// (and any repeated path): one file, one channel
    } else {
      err = sink(stderr);
    }
    Stdio io = new Stdio(out, err, stdin);
    if (out != null) {
      io.closers.add(out);
    }
    if (err != null && err != out) {
      io.closers.add(err);
    }
    return io;
  }

  private static FileChannel sink(String uri) throws IOException {
    if (uri.isEmpty()) {
      return null;
    }
    Path path;
    if (uri.startsWith("file://")) {
      path = Path.of(URI.create(uri).getPath());
      Files.createDirectories(path.toAbsolutePath().getParent());
    } else if (uri.startsWith("fifo://")) {
      path = Path.of(uri.substring("fifo://".length()));
    } else {
      path = Path.of(uri);
    }
    if (isFifo(path)) {
      return FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }
    return FileChannel.open(path, StandardOpenOption.WRITE, StandardOpenOption.APPEND, StandardOpenOption.CREATE);
  }

  static boolean isFifo(Path path) {
    try {
      int mode = (Integer) Files.getAttribute(path, "unix:mode");
      return (mode & 0170000) == 0010000;
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return false;
    }
  }

  /** binary:///path?k=v: runs the logging driver and waits until it says it is ready. */
  private static Stdio binary(String stdin, String uriText, String namespace, String containerId) throws IOException {
    URI uri = URI.create(uriText);
    List<String> cmd = new ArrayList<>(List.of("sh", "-c",
        "o=$1 e=$2 r=$3; shift 3; exec \"$@\" 3<\"$o\" 4<\"$e\" 5>\"$r\"", "sh"));
    Path dir = Files.createTempDirectory("isola-shim-io");
    Path outFifo = dir.resolve("out");
    Path errFifo = dir.resolve("err");
    Path ready = dir.resolve("ready");
    mkfifo(outFifo, errFifo, ready);
    cmd.add(outFifo.toString());
    cmd.add(errFifo.toString());
    cmd.add(ready.toString());
    cmd.add(uri.getPath());
    String query = uri.getRawQuery();
    if (query != null && !query.isEmpty()) {
      for (String pair : query.split("&")) {
        int eq = pair.indexOf('=');
        String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
        String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
        cmd.add(k);
        if (!v.isEmpty()) {
          cmd.add(v);
        }
      }
    }
    FileChannel out = FileChannel.open(outFifo, StandardOpenOption.READ, StandardOpenOption.WRITE);
    FileChannel err = FileChannel.open(errFifo, StandardOpenOption.READ, StandardOpenOption.WRITE);
    ProcessBuilder pb = new ProcessBuilder(cmd)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.DISCARD);
    pb.environment().put("CONTAINER_ID", containerId);
    pb.environment().put("CONTAINER_NAMESPACE", namespace);
    Process driver = pb.start();
    CompletableFuture<Void> isReady = CompletableFuture.runAsync(() -> {
      try (FileChannel r = FileChannel.open(ready, StandardOpenOption.READ)) {
        r.read(ByteBuffer.allocate(1)); // one byte or EOF
      } catch (IOException e) {
        // the driver died: it was never ready, the process check below says so
      }
    });
    try {
      isReady.get(30, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      driver.destroyForcibly();
      out.close();
      err.close();
      throw new IOException("logging driver " + uri.getPath() + " did not become ready within 30 s");
    } catch (Exception e) {
      throw new IOException("logging driver " + uri.getPath() + ": " + e.getMessage(), e);
    } finally {
      for (Path p : List.of(outFifo, errFifo, ready, dir)) {
        Files.deleteIfExists(p);
      }
    }
    Stdio io = new Stdio(out, err, stdin);
    io.closers.add(out);
    io.closers.add(err);
    return io;
  }

  private static void mkfifo(Path... paths) throws IOException {
    List<String> cmd = new ArrayList<>(List.of("mkfifo", "-m", "600"));
    for (Path p : paths) {
      cmd.add(p.toString());
    }
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      p.getInputStream().readAllBytes();
      if (p.waitFor() != 0) {
        throw new IOException("mkfifo failed");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  void writeOut(ByteString data) {
    write(out, data);
  }

  void writeErr(ByteString data) {
    write(err != null ? err : null, data);
  }

  private void write(FileChannel channel, ByteString data) {
    if (channel == null || closed) {
      return;
    }
    try {
      synchronized (channel) {
        ByteBuffer buffer = data.asReadOnlyByteBuffer();
        while (buffer.hasRemaining()) {
          channel.write(buffer);
        }
      }
    } catch (IOException e) {
      LOG.fine("stdio write failed: " + e.getMessage());
    }
  }

  boolean hasStdin() {
    return !stdinPath.isEmpty();
  }

  /** Opens the stdin FIFO for reading (blocks until a writer exists; containerd's client has it open). */
  FileChannel openStdin() throws IOException {
    FileChannel channel = FileChannel.open(Path.of(stdinPath), StandardOpenOption.READ);
    stdin = channel;
    if (closed || stdinClosed) {
      channel.close();
    }
    return channel;
  }

  void closeStdin() {
    stdinClosed = true;
    FileChannel s = stdin;
    if (s == null && hasStdin() && isFifo(Path.of(stdinPath))) {
      // a reader blocked in open() waits for a writer: be one for a moment so that it returns
      try (FileChannel unblock = FileChannel.open(Path.of(stdinPath), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
        Thread.onSpinWait();
      } catch (IOException ignored) {
        // gone already
      }
      s = stdin;
    }
    if (s != null) {
      try {
        s.close();
      } catch (IOException ignored) {
        // closing
      }
    }
  }

  /** Closes the output side: the client reading the FIFOs sees EOF. */
  @Override
  public void close() {
    closed = true;
    closeStdin();
    for (Closeable c : closers) {
      try {
        c.close();
      } catch (IOException ignored) {
        // closing
      }
    }
  }
}
