package io.isola.ttrpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.Empty;
import io.isola.proto.ttrpc.Response;
import io.isola.proto.ttrpc.Status;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ByteChannel;
import java.nio.channels.Pipe;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The host side of the agent channel against a hostile guest: more than 10^6 adversarial frames
 * (random bytes, lies about lengths, truncation, wrong types, invalid protobuf, answers to
 * requests never made, answers that do not parse as the call's type) fed to a real
 * {@link TtrpcClient}. Nothing may escape its reader thread, no call may hang past its deadline,
 * memory stays bounded, and a connection that a frame makes unusable is reported once, with a
 * code and a message, and fails every call in flight.
 */
class HostileAgentFuzzTest {
  private static final int FRAMES = 1_050_000;
  private static final Set<StatusCode> BREAK_CODES = Set.of(StatusCode.UNAVAILABLE, StatusCode.DATA_LOSS);

  /** The client's side of an in-memory connection: reads what the fuzzer writes, writes to a sink. */
  private static final class Wire implements ByteChannel {
    final Pipe toClient = Pipe.open();
    final Pipe fromClient = Pipe.open();

    Wire() throws IOException {
      fromClient.source().configureBlocking(false);
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
      return toClient.source().read(dst);
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      int n = fromClient.sink().write(src);
      drainRequests();
      return n;
    }

    /** The fuzzer does not answer requests itself; it only keeps the pipe from filling up. */
    void drainRequests() throws IOException {
      ByteBuffer scratch = ByteBuffer.allocate(65536);
      while (fromClient.source().read(scratch) > 0) {
        scratch.clear();
      }
    }

    @Override
    public boolean isOpen() {
      return toClient.source().isOpen();
    }

    @Override
    public void close() throws IOException {
      toClient.source().close();
      fromClient.sink().close();
    }

    void send(byte[] bytes) throws IOException {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        toClient.sink().write(b);
      }
    }

    void endOfStream() throws IOException {
      toClient.sink().close();
    }
  }

  private static byte[] frame(long length, int streamId, int type, byte[] payload) {
    ByteBuffer b = ByteBuffer.allocate(Frame.HEADER_LENGTH + payload.length).order(ByteOrder.BIG_ENDIAN);
    b.putInt((int) length).putInt(streamId).put((byte) type).put((byte) 0).put(payload);
    return b.array();
  }

  private static byte[] randomBytes(Random r, int max) {
    byte[] b = new byte[r.nextInt(max + 1)];
    r.nextBytes(b);
    return b;
  }

  /** A frame the client must survive without losing the connection. */
  private static byte[] harmless(Random r) {
    switch (r.nextInt(5)) {
      case 0: { // an answer to a request never made (odd ids are ours; any id is a lie here)
        byte[] p = Response.newBuilder().setPayload(ByteString.copyFrom(randomBytes(r, 64))).build().toByteArray();
        return frame(p.length, 1_000_001 + 2 * r.nextInt(1 << 20), Frame.TYPE_RESPONSE, p);
      }
      case 1: { // a type this version does not know: ignored
        byte[] p = randomBytes(r, 64);
        return frame(p.length, r.nextInt(), 3 + r.nextInt(250), p);
      }
      case 2: { // a request sent to the host: the client ignores requests
        byte[] p = randomBytes(r, 64);
        return frame(p.length, r.nextInt(), Frame.TYPE_REQUEST, p);
      }
      case 3: { // an error status for a stream nobody waits on
        byte[] p = Response.newBuilder().setStatus(Status.newBuilder().setCode(r.nextInt(20))
            .setMessage("\u0000\u001b[31m" + r.nextLong())).build().toByteArray();
        return frame(p.length, -r.nextInt(Integer.MAX_VALUE), Frame.TYPE_RESPONSE, p);
      }
      default: { // an empty response frame for an even (server-side) id
        return frame(0, 2 * r.nextInt(1 << 20), Frame.TYPE_RESPONSE, new byte[0]);
      }
    }
  }

  /** A frame after which the connection cannot be trusted; the client must break it. */
  private static byte[] fatal(Random r) {
    switch (r.nextInt(4)) {
      case 0: { // a response that is not protobuf
        byte[] p = new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f};
        return frame(p.length, 7, Frame.TYPE_RESPONSE, p);
      }
      case 1: // a length beyond the limit, with nothing behind it
        return frame(Frame.MAX_PAYLOAD + 1L + r.nextInt(Integer.MAX_VALUE - Frame.MAX_PAYLOAD - 1), 9,
            Frame.TYPE_RESPONSE, randomBytes(r, 32));
      case 2: // a header cut short
        return java.util.Arrays.copyOf(frame(4, 11, Frame.TYPE_RESPONSE, new byte[4]), 1 + r.nextInt(9));
      default: // a payload shorter than its length says
        return frame(1000 + r.nextInt(1000), 13, Frame.TYPE_RESPONSE, randomBytes(r, 500));
    }
  }

  @Test
  void millionsOfHostileFramesNeverCrashHangOrLeak() throws Exception {
    Random random = new Random(20261129L);
    ConcurrentLinkedQueue<Throwable> escaped = new ConcurrentLinkedQueue<>();
    Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
    Thread.setDefaultUncaughtExceptionHandler((t, e) -> escaped.add(e));
    int sent = 0;
    int connections = 0;
    long heapBefore = usedHeapAfterGc();
    try {
      while (sent < FRAMES) {
        Wire wire = new Wire();
        List<TtrpcException> reports = new ArrayList<>();
        TtrpcClient client = new TtrpcClient(wire, "fuzz", reports::add);
        connections++;
        // a call in flight while the hostile frames arrive: it must end by its deadline or the break
        CompletableFuture<Throwable> call = CompletableFuture.supplyAsync(() -> {
          try {
            client.call("isola.agent.v1.Agent", "GetVersion", Empty.getDefaultInstance(), Empty.parser(),
                Duration.ofSeconds(20));
            return null;
          } catch (TtrpcException e) {
            return e;
          }
        });
        int n = 5_000 + random.nextInt(20_000);
        java.io.ByteArrayOutputStream batch = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < n; i++) {
          batch.write(harmless(random));
          if (batch.size() > 1 << 16) {
            wire.send(batch.toByteArray());
            batch.reset();
          }
        }
        wire.send(batch.toByteArray());
        sent += n;
        boolean endsFatally = random.nextInt(4) != 0;
        if (endsFatally) {
          wire.send(fatal(random));
          sent++;
        }
        wire.endOfStream();
        Throwable outcome = call.get(30, TimeUnit.SECONDS); // never hangs
        assertNotNull(outcome, "the hostile peer never answered GetVersion, so the call cannot succeed");
        TtrpcException failure = (TtrpcException) outcome;
        assertTrue(BREAK_CODES.contains(failure.code()), "the call fails with the break: " + failure);
        for (int i = 0; i < 200 && !client.isBroken(); i++) {
          Thread.sleep(5);
        }
        assertTrue(client.isBroken());
        assertEquals(1, reports.size(), "the broken connection is reported exactly once");
        TtrpcException reason = reports.get(0);
        assertTrue(BREAK_CODES.contains(reason.code()), "a clear code: " + reason);
        assertTrue(!reason.detail().isEmpty() && reason.detail().chars().allMatch(c -> c >= 0x20 && c < 0x7f),
            "a printable message: " + reason.detail());
        assertTrue(client.strayResponses() > 0, "answers to requests never made were counted and dropped");
        TtrpcException after = org.junit.jupiter.api.Assertions.assertThrows(TtrpcException.class,
            () -> client.call("s", "m", Empty.getDefaultInstance(), Empty.parser(), Duration.ofSeconds(1)));
        assertEquals(StatusCode.UNAVAILABLE, after.code(), "a broken connection refuses new calls at once");
        client.close();
      }
    } finally {
      Thread.setDefaultUncaughtExceptionHandler(previous);
    }
    assertEquals(List.of(), List.copyOf(escaped), "nothing escaped a reader thread");
    long grown = usedHeapAfterGc() - heapBefore;
    assertTrue(grown < 64L << 20, "memory stays bounded: heap grew by " + (grown >> 20) + " MiB");
    System.out.printf("hostile agent fuzz: %d frames over %d connections%n", sent, connections);
    assertTrue(sent >= 1_000_000);
  }

  private static long usedHeapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(50);
    }
    Runtime rt = Runtime.getRuntime();
    return rt.totalMemory() - rt.freeMemory();
  }
}
