package io.isola.shim;

import io.isola.ttrpc.TtrpcServer;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogManager;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The long-running shim: a ttrpc server on a Unix socket serving containerd.task.v2.Task for
 * every container of one group (a pod, or a lone container). It exits on Shutdown once no task
 * is left, removing its socket.
 */
final class ShimDaemon {
  private static final Logger LOG = Logger.getLogger(ShimDaemon.class.getName());

  private ShimDaemon() {}

  static void run(Flags flags) {
    String namespace = flags.get("namespace", "default");
    Path bundle = Path.of(flags.get("bundle", System.getProperty("user.dir")));
    Path socket = Path.of(flags.get("socket", ""));
    String isoladSocket = flags.get("isolad-socket", ShimConfig.DEFAULT_SOCKET);
    setUpLogging(bundle.resolve("log"), flags.bool("debug"));
    String ttrpcAddress = System.getenv("TTRPC_ADDRESS");
    if (ttrpcAddress == null || ttrpcAddress.isEmpty()) {
      ttrpcAddress = flags.get("address", "") + ".ttrpc";
    }
    ServerSocketChannel listener;
    try {
      listener = listen(socket);
    } catch (IOException e) {
      LOG.severe("cannot listen on " + socket + ": " + e.getMessage());
      System.exit(ShimMain.canConnect(socket) ? 0 : 1);
      return;
    }
    EventPublisher events = new EventPublisher(ttrpcAddress, namespace);
    ExecutorService executor = Executors.newCachedThreadPool(r -> {
      Thread t = new Thread(r, "task");
      t.setDaemon(true);
      return t;
    });
    TaskService[] service = new TaskService[1];
    Runnable shutdown = () -> {
      LOG.info("shutting down");
      try {
        listener.close();
      } catch (IOException ignored) {
        // closing
      }
      try {
        Files.deleteIfExists(socket);
      } catch (IOException ignored) {
        // best effort
      }
      service[0].close();
      events.flush(Duration.ofSeconds(3));
      Runtime.getRuntime().halt(0);
    };
    service[0] = new TaskService(namespace, isoladSocket, events, shutdown);
    TtrpcServer server = service[0].register(TtrpcServer.builder(executor)).build();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        Files.deleteIfExists(socket);
      } catch (IOException ignored) {
        // best effort
      }
    }));
    LOG.info("isola shim " + ProcessHandle.current().pid() + " serving " + socket + " (isolad " + isoladSocket + ")");
    String self = System.getProperty("user.name");
    while (listener.isOpen()) {
      SocketChannel connection;
      try {
        connection = listener.accept();
      } catch (IOException e) {
        if (listener.isOpen()) {
          LOG.warning("accept failed: " + e.getMessage());
        }
        continue;
      }
      if (!samePeer(connection, self)) {
        try {
          connection.close();
        } catch (IOException ignored) {
          // refused
        }
        continue;
      }
      server.serveConnection(connection);
    }
    try {
      Thread.sleep(Long.MAX_VALUE); // the shutdown runnable halts the VM
    } catch (InterruptedException ignored) {
      Thread.currentThread().interrupt();
    }
  }

  private static ServerSocketChannel listen(Path socket) throws IOException {
    Files.createDirectories(socket.getParent());
    if (Files.exists(socket)) {
      if (ShimMain.canConnect(socket)) {
        throw new IOException("another shim already serves " + socket);
      }
      Files.delete(socket); // stale, from a shim that died
    }
    ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    listener.bind(UnixDomainSocketAddress.of(socket));
    Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));
    return listener;
  }

  /** Like Go's ttrpc UnixSocketRequireSameUser: only our own user may talk to the shim. */
  private static boolean samePeer(SocketChannel connection, String self) {
    try {
      var principal = connection.getOption(jdk.net.ExtendedSocketOptions.SO_PEERCRED);
      boolean ok = principal.user().getName().equals(self);
      if (!ok) {
        LOG.warning("refused a connection from user " + principal.user().getName());
      }
      return ok;
    } catch (IOException | UnsupportedOperationException e) {
      return true; // cannot tell; the socket is 0600 anyway
    }
  }

  /**
   * Log lines go to the bundle's "log" FIFO, which containerd copies into its own log. Opened
   * read-write so the open never blocks; written by one thread from a bounded queue, so a log
   * that nobody reads never stalls the shim (lines are dropped instead).
   */
  private static void setUpLogging(Path logFifo, boolean debug) {
    LogManager.getLogManager().reset();
    Logger root = Logger.getLogger("");
    root.setLevel(debug ? Level.FINE : Level.INFO);
    Logger.getLogger("io.grpc").setLevel(Level.WARNING);
    Logger.getLogger("io.isola.shaded").setLevel(Level.WARNING);
    FileChannel channel;
    try {
      channel = Stdio.isFifo(logFifo)
          ? FileChannel.open(logFifo, StandardOpenOption.READ, StandardOpenOption.WRITE)
          : FileChannel.open(logFifo, StandardOpenOption.WRITE, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      return;
    }
    BlockingQueue<String> lines = new ArrayBlockingQueue<>(1024);
    Thread writer = new Thread(() -> {
      try {
        while (true) {
          ByteBuffer b = ByteBuffer.wrap(lines.take().getBytes(StandardCharsets.UTF_8));
          while (b.hasRemaining()) {
            channel.write(b);
          }
        }
      } catch (InterruptedException | IOException e) {
        // logging ends
      }
    }, "log");
    writer.setDaemon(true);
    writer.start();
    root.addHandler(new Handler() {
      @Override
      public void publish(LogRecord r) {
        if (!isLoggable(r)) {
          return;
        }
        String msg = r.getMessage();
        if (r.getThrown() != null) {
          msg += ": " + r.getThrown();
        }
        String level = r.getLevel().intValue() >= Level.SEVERE.intValue() ? "error"
            : r.getLevel().intValue() >= Level.WARNING.intValue() ? "warning"
            : r.getLevel().intValue() >= Level.INFO.intValue() ? "info" : "debug";
        // logrus text format, as containerd's other shims write it
        lines.offer("time=\"" + Instant.ofEpochMilli(r.getMillis()) + "\" level=" + level + " msg=\""
            + msg.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\" runtime=io.containerd.isola.v2\n");
      }

      @Override
      public void flush() {}

      @Override
      public void close() {}
    });
  }
}
