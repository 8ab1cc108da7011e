package io.isola.vmm.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A QMP (QEMU Machine Protocol) client: JSON lines over a Unix socket. Commands carry an id and
 * are matched to their answers; asynchronous events go to a listener.
 *
 * <p>QEMU runs next to a hostile guest and may itself be subverted, so what it sends is bounded
 * (1 MiB per line) and every command has a deadline.
 */
public final class QmpClient implements Closeable {
  private static final int MAX_LINE = 1 << 20;
  private static final ObjectMapper JSON = new ObjectMapper();

  private final SocketChannel channel;
  private final Map<String, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
  private final AtomicLong nextId = new AtomicLong();
  private final Consumer<JsonNode> events;
  private final CompletableFuture<JsonNode> greeting = new CompletableFuture<>();
  private volatile IOException failure;

  private QmpClient(SocketChannel channel, Consumer<JsonNode> events) {
    this.channel = channel;
    this.events = events;
  }

  /** Connects, reads the greeting and negotiates capabilities. */
  public static QmpClient connect(Path socket, Consumer<JsonNode> events, Duration timeout) throws IOException {
    SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket));
    QmpClient client = new QmpClient(channel, events);
    Thread reader = new Thread(client::readLoop, "qmp-" + socket.getParent().getFileName());
    reader.setDaemon(true);
    reader.start();
    try {
      client.greeting.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      client.close();
      throw new IOException("interrupted while waiting for the QMP greeting");
    } catch (ExecutionException | TimeoutException e) {
      client.close();
      throw new IOException("QEMU's control socket sent no QMP greeting within " + timeout.toMillis() + " ms");
    }
    client.execute("qmp_capabilities", null, timeout);
    return client;
  }

  /** Runs one command and returns its "return" member, or throws with QEMU's error text. */
  public JsonNode execute(String command, ObjectNode arguments, Duration timeout) throws IOException {
    if (failure != null) {
      throw new IOException("QMP connection is closed: " + failure.getMessage());
    }
    String id = Long.toString(nextId.incrementAndGet());
    ObjectNode message = JSON.createObjectNode().put("execute", command).put("id", id);
    if (arguments != null) {
      message.set("arguments", arguments);
    }
    CompletableFuture<JsonNode> answer = new CompletableFuture<>();
    pending.put(id, answer);
    try {
      ByteBuffer bytes = ByteBuffer.wrap((JSON.writeValueAsString(message) + "\n").getBytes(StandardCharsets.UTF_8));
      synchronized (channel) {
        while (bytes.hasRemaining()) {
          channel.write(bytes);
        }
      }
      JsonNode reply = answer.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      if (reply.has("error")) {
        throw new IOException("QMP " + command + " failed: " + reply.path("error").path("desc").asText("unknown error"));
      }
      return reply.path("return");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted during QMP " + command);
    } catch (ExecutionException e) {
      throw new IOException("QMP " + command + ": " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IOException("QMP " + command + " got no answer within " + timeout.toMillis() + " ms");
    } finally {
      pending.remove(id);
    }
  }

  /** The VM's run state as QEMU reports it ("running", "paused", "shutdown", ...). */
  public String status(Duration timeout) throws IOException {
    return execute("query-status", null, timeout).path("status").asText();
  }

  private void readLoop() {
    ByteBuffer buffer = ByteBuffer.allocate(64 * 1024);
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    IOException reason;
    try {
      while (true) {
        buffer.clear();
        if (channel.read(buffer) < 0) {
          reason = new IOException("QEMU closed the QMP connection");
          break;
        }
        buffer.flip();
        while (buffer.hasRemaining()) {
          byte b = buffer.get();
          if (b == '\n') {
            dispatch(line.toString(StandardCharsets.UTF_8));
            line.reset();
          } else if (line.size() >= MAX_LINE) {
            throw new IOException("QMP line longer than " + MAX_LINE + " bytes");
          } else {
            line.write(b);
          }
        }
      }
    } catch (IOException e) {
      reason = e;
    }
    failure = reason;
    greeting.completeExceptionally(reason);
    pending.values().forEach(f -> f.completeExceptionally(failure));
    try {
      channel.close();
    } catch (IOException ignored) {
      // already closed
    }
  }

  private void dispatch(String text) throws IOException {
    if (text.isBlank()) {
      return;
    }
    JsonNode node = JSON.readTree(text);
    if (node.has("QMP")) {
      greeting.complete(node);
    } else if (node.has("event")) {
      events.accept(node);
    } else {
      CompletableFuture<JsonNode> answer = pending.get(node.path("id").asText(""));
      if (answer != null) {
        answer.complete(node);
      }
    }
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException ignored) {
      // nothing to do
    }
  }
}
