package io.isola.shim;

import com.google.protobuf.Any;
import com.google.protobuf.Empty;
import com.google.protobuf.Message;
import io.isola.proto.containerd.events.ttrpc.Envelope;
import io.isola.proto.containerd.events.ttrpc.ForwardRequest;
import io.isola.ttrpc.TtrpcClient;
import io.isola.ttrpc.TtrpcException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Forwards task events to containerd over ttrpc ({@code containerd.services.events.ttrpc.v1.Events/Forward}
 * on TTRPC_ADDRESS), one at a time and in the order they were published, so TaskStart always
 * precedes TaskExit. A failed send reconnects and is retried (5 times, like the Go shim library).
 */
final class EventPublisher implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(EventPublisher.class.getName());
  private static final String SERVICE = "containerd.services.events.ttrpc.v1.Events";
  private static final int ATTEMPTS = 5;

  private record Pending(Envelope envelope) {}

  private final String address;
  private final String namespace;
  private final BlockingQueue<Pending> queue = new LinkedBlockingQueue<>(4096);
  private final Thread thread;
  private final java.util.concurrent.atomic.AtomicInteger outstanding = new java.util.concurrent.atomic.AtomicInteger();
  private TtrpcClient client;
  private volatile boolean closed;

  EventPublisher(String ttrpcAddress, String namespace) {
    this.address = ttrpcAddress.startsWith("unix://") ? ttrpcAddress.substring(7) : ttrpcAddress;
    this.namespace = namespace;
    thread = new Thread(this::run, "events");
    thread.setDaemon(true);
    thread.start();
  }

  /** Queues {@code event} for {@code topic} (e.g. "/tasks/exit"); never blocks the caller for long. */
  void publish(String topic, Message event) {
    Envelope envelope = Envelope.newBuilder()
        .setTimestamp(Timestamps.now())
        .setNamespace(namespace)
        .setTopic(topic)
        .setEvent(Any.newBuilder()
            // the bare message name: containerd's typeurl resolves events by it
            .setTypeUrl(event.getDescriptorForType().getFullName())
            .setValue(event.toByteString()))
        .build();
    outstanding.incrementAndGet();
    try {
      if (!queue.offer(new Pending(envelope), 5, TimeUnit.SECONDS)) {
        outstanding.decrementAndGet();
        LOG.warning("event queue full; dropped " + topic);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Waits (bounded) until everything queued so far has been sent. */
  void flush(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (outstanding.get() > 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private void run() {
    while (!closed) {
      Pending next;
      try {
        next = queue.poll(1, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        return;
      }
      if (next == null) {
        continue;
      }
      for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
        try {
          connection().call(SERVICE, "Forward", ForwardRequest.newBuilder().setEnvelope(next.envelope()).build(),
              Empty.parser(), Duration.ofSeconds(5));
          LOG.fine(() -> "published " + next.envelope().getTopic());
          break;
        } catch (TtrpcException | IOException e) {
          LOG.log(Level.WARNING, "cannot publish " + next.envelope().getTopic() + " (attempt " + attempt + "): "
              + e.getMessage());
          disconnect();
          sleep(200L * attempt);
        }
      }
      outstanding.decrementAndGet();
    }
  }

  private synchronized TtrpcClient connection() throws IOException {
    if (client == null || client.isBroken()) {
      SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
      try {
        channel.connect(UnixDomainSocketAddress.of(address));
      } catch (IOException e) {
        channel.close();
        throw e;
      }
      client = new TtrpcClient(channel, "events", reason -> { });
    }
    return client;
  }

  private synchronized void disconnect() {
    if (client != null) {
      client.close();
      client = null;
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    closed = true;
    thread.interrupt();
    disconnect();
  }
}
