package io.isola.ttrpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.StringValue;
import io.isola.proto.ttrpc.KeyValue;
import io.isola.proto.ttrpc.Request;
import io.isola.proto.ttrpc.Response;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Client and server over a real Unix socket, including a hostile peer on each side. */
class TtrpcClientServerTest {
  private static final Duration DEADLINE = Duration.ofSeconds(5);
  @TempDir Path dir;
  private ExecutorService executor;
  private TtrpcServer server;
  private Path socket;
  private final CountDownLatch release = new CountDownLatch(1);

  @BeforeEach
  void start() throws Exception {
    executor = Executors.newCachedThreadPool();
    server = TtrpcServer.builder(executor)
        .method("test.Echo", "Echo", payload -> payload)
        .method("test.Echo", "Fail", payload -> {
          throw new TtrpcException(StatusCode.NOT_FOUND, "no such thing");
        })
        .method("test.Echo", "Park", payload -> {
          try {
            release.await(10, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          return payload;
        })
        .build();
    socket = dir.resolve("t.sock");
    ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    listener.bind(UnixDomainSocketAddress.of(socket));
    server.serve(listener);
  }

  @AfterEach
  void stop() throws Exception {
    release.countDown();
    server.close();
    executor.shutdownNow();
  }

  private TtrpcClient client(AtomicReference<TtrpcException> brokenReason) throws Exception {
    return new TtrpcClient(SocketChannel.open(UnixDomainSocketAddress.of(socket)), "test", brokenReason::set);
  }

  @Test
  void manyAsyncCallsInFlightEachGetTheirOwnReply() throws Exception {
    try (TtrpcClient client = client(new AtomicReference<>())) {
      java.util.List<java.util.concurrent.CompletableFuture<StringValue>> replies = new java.util.ArrayList<>();
      for (int i = 0; i < 200; i++) {
        replies.add(client.callAsync("test.Echo", "Echo", StringValue.of("m" + i), StringValue.parser(), DEADLINE));
      }
      for (int i = 0; i < 200; i++) {
        assertEquals("m" + i, TtrpcClient.await(replies.get(i), "Echo").getValue());
      }
    }
  }

  @Test
  void anAsyncCallPastItsDeadlineFailsAndItsLateReplyIsStray() throws Exception {
    try (TtrpcClient client = client(new AtomicReference<>())) {
      var reply = client.callAsync("test.Echo", "Park", StringValue.of("x"), StringValue.parser(), Duration.ofMillis(200));
      TtrpcException e = assertThrows(TtrpcException.class, () -> TtrpcClient.await(reply, "Park"));
      assertEquals(StatusCode.DEADLINE_EXCEEDED, e.code());
      release.countDown();
      for (int i = 0; i < 100 && client.strayResponses() == 0; i++) {
        Thread.sleep(50);
      }
      assertEquals(1, client.strayResponses(), "the stream was forgotten at the deadline");
    }
  }

  @Test
  void anInterruptedAwaitCancelsTheCallAndForgetsItsStream() throws Exception {
    try (TtrpcClient client = client(new AtomicReference<>())) {
      var reply = client.callAsync("test.Echo", "Park", StringValue.of("x"), StringValue.parser(), DEADLINE);
      AtomicReference<TtrpcException> seen = new AtomicReference<>();
      Thread waiter = new Thread(() -> {
        try {
          TtrpcClient.await(reply, "Park");
        } catch (TtrpcException e) {
          seen.set(e);
        }
      });
      waiter.start();
      Thread.sleep(200);
      waiter.interrupt();
      waiter.join(5000);
      assertEquals(StatusCode.CANCELLED, seen.get().code());
      release.countDown();
      for (int i = 0; i < 100 && client.strayResponses() == 0; i++) {
        Thread.sleep(50);
      }
      assertEquals(1, client.strayResponses(), "the late reply found nobody waiting");
      assertEquals("y", client.call("test.Echo", "Echo", StringValue.of("y"), StringValue.parser(), DEADLINE)
          .getValue(), "the connection still works");
    }
  }

  @Test
  void unaryCallRoundTrips() throws Exception {
    try (TtrpcClient client = client(new AtomicReference<>())) {
      StringValue reply = client.call("test.Echo", "Echo", StringValue.of("hello"), StringValue.parser(), DEADLINE);
      assertEquals("hello", reply.getValue());
    }
  }

  @Test
  void answersArriveOutOfOrder() throws Exception {
    try (TtrpcClient client = client(new AtomicReference<>())) {
      AtomicReference<String> parked = new AtomicReference<>();
      Thread t = new Thread(() -> {
        try {
          parked.set(client.call("test.Echo", "Park", StringValue.of("late"), StringValue.parser(), DEADLINE).getValue());
        } catch (TtrpcException e) {
          parked.set(e.getMessage());
        }
      });
      t.start();
      assertEquals("early", client.call("test.Echo", "Echo", StringValue.of("early"), StringValue.parser(), DEADLINE).getValue());
      release.countDown();
      t.join(5000);
      assertEquals("late", parked.get());
    }
  }

  @Test
  void errorStatusBecomesException() throws Exception {
    try (TtrpcClient client = client(new AtomicReference<>())) {
      TtrpcException e = assertThrows(TtrpcException.class,
          () -> client.call("test.Echo", "Fail", StringValue.of(""), StringValue.parser(), DEADLINE));
      assertEquals(StatusCode.NOT_FOUND, e.code());
      assertEquals("no such thing", e.detail());
    }
  }

  @Test
  void unknownMethodIsUnimplemented() throws Exception {
    try (TtrpcClient client = client(new AtomicReference<>())) {
      TtrpcException e = assertThrows(TtrpcException.class,
          () -> client.call("test.Echo", "Nope", StringValue.of(""), StringValue.parser(), DEADLINE));
      assertEquals(StatusCode.UNIMPLEMENTED, e.code());
    }
  }

  @Test
  void deadlineExpires() throws Exception {
    try (TtrpcClient client = client(new AtomicReference<>())) {
      TtrpcException e = assertThrows(TtrpcException.class,
          () -> client.call("test.Echo", "Park", StringValue.of(""), StringValue.parser(), Duration.ofMillis(200)));
      assertEquals(StatusCode.DEADLINE_EXCEEDED, e.code());
    }
  }

  /** Raw frames at the server: each fault gets a status on its stream, and the server keeps serving. */
  @Test
  void serverAnswersMalformedFramesAndKeepsServing() throws Exception {
    try (SocketChannel raw = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
      FrameWriter writer = new FrameWriter(raw);
      FrameReader reader = new FrameReader(raw);
      // garbage protobuf
      writer.write(new Frame(1, Frame.TYPE_REQUEST, (byte) 0, new byte[] {(byte) 0xff, (byte) 0xff, 0x01}));
      assertEquals(StatusCode.INVALID_ARGUMENT, statusOf(reader.read()));
      // even stream id
      writer.write(new Frame(2, Frame.TYPE_REQUEST, (byte) 0, Request.getDefaultInstance().toByteArray()));
      assertEquals(StatusCode.INVALID_ARGUMENT, statusOf(reader.read()));
      // unknown frame type: ignored, no answer; then oversize length: RESOURCE_EXHAUSTED, body skipped
      writer.write(new Frame(3, (byte) 9, (byte) 0, new byte[] {1}));
      ByteBuffer big = ByteBuffer.allocate(10 + Frame.MAX_PAYLOAD + 1);
      big.putInt(Frame.MAX_PAYLOAD + 1).putInt(5).put(Frame.TYPE_REQUEST).put((byte) 0).position(big.capacity()).flip();
      while (big.hasRemaining()) {
        raw.write(big);
      }
      Frame tooLarge = reader.read();
      assertEquals(5, tooLarge.streamId());
      assertEquals(StatusCode.RESOURCE_EXHAUSTED, statusOf(tooLarge));
      // still serving
      Request ok = Request.newBuilder().setService("test.Echo").setMethod("Echo")
          .setPayload(StringValue.of("alive").toByteString())
          .addMetadata(KeyValue.newBuilder().setKey("k").setValue("v")).build();
      writer.write(new Frame(7, Frame.TYPE_REQUEST, (byte) 0, ok.toByteArray()));
      Frame answer = reader.read();
      assertEquals(7, answer.streamId());
      assertEquals("alive", StringValue.parseFrom(Response.parseFrom(answer.payload()).getPayload()).getValue());
    }
  }

  private static StatusCode statusOf(Frame frame) throws Exception {
    return StatusCode.of(Response.parseFrom(frame.payload()).getStatus().getCode());
  }

  /** A hostile server: garbage response protobuf breaks the connection with a clear reason. */
  @Test
  void clientFailsPendingCallsOnGarbageResponse() throws Exception {
    Path hostile = dir.resolve("hostile.sock");
    try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      listener.bind(UnixDomainSocketAddress.of(hostile));
      Thread peer = new Thread(() -> {
        try (SocketChannel c = listener.accept()) {
          Frame request = new FrameReader(c).read();
          FrameWriter w = new FrameWriter(c);
          w.write(new Frame(999, Frame.TYPE_RESPONSE, (byte) 0, Response.getDefaultInstance().toByteArray()));
          w.write(new Frame(request.streamId(), Frame.TYPE_RESPONSE, (byte) 0, new byte[] {(byte) 0xff, 0x00, 0x7f}));
          Thread.sleep(2000);
        } catch (Exception ignored) {
          // test peer
        }
      });
      peer.start();
      AtomicReference<TtrpcException> reason = new AtomicReference<>();
      TtrpcClient client = new TtrpcClient(SocketChannel.open(UnixDomainSocketAddress.of(hostile)), "h", reason::set);
      TtrpcException e = assertThrows(TtrpcException.class,
          () -> client.call("x", "Y", StringValue.of(""), StringValue.parser(), DEADLINE));
      assertEquals(StatusCode.DATA_LOSS, e.code());
      assertTrue(client.isBroken());
      assertEquals(1, client.strayResponses(), "the reply to a request never made was dropped and counted");
      assertEquals(StatusCode.DATA_LOSS, reason.get().code());
      TtrpcException after = assertThrows(TtrpcException.class,
          () -> client.call("x", "Y", StringValue.of(""), StringValue.parser(), DEADLINE));
      assertEquals(StatusCode.UNAVAILABLE, after.code());
      peer.join();
    }
  }

  @Test
  void peerMessagesAreEscapedAndBounded() {
    TtrpcException e = new TtrpcException(StatusCode.INTERNAL, "evil\u001b[2J\nforged line" + "x".repeat(10000));
    assertFalse(e.getMessage().contains("\u001b"));
    assertFalse(e.getMessage().contains("\n"));
    assertTrue(e.getMessage().length() < TtrpcException.MAX_MESSAGE + 100);
  }
}
