package io.isola.ttrpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;
import io.isola.proto.ttrpc.Request;
import io.isola.proto.ttrpc.Response;
import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.ByteChannel;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * A ttrpc client over one byte channel, with many calls in flight. A daemon thread reads
 * responses and completes the matching call; every call has a deadline.
 *
 * <p>The peer is untrusted (it may be a guest agent that tenant code replaced): a malformed
 * frame breaks the connection and fails every pending call with the reason, responses to
 * streams we never opened are dropped, and the number of calls in flight is bounded.
 */
public final class TtrpcClient implements Closeable {
  private static final int MAX_IN_FLIGHT = 1024;

  private final ByteChannel channel;
  private final FrameReader reader;
  private final FrameWriter writer;
  private final Map<Integer, CompletableFuture<Response>> pending = new ConcurrentHashMap<>();
  /** Odd ids from 1, as ttrpc clients use; wraps long after any realistic connection ends. */
  private final AtomicInteger nextStreamId = new AtomicInteger(1);
  private final AtomicReference<TtrpcException> broken = new AtomicReference<>();
  private final Consumer<TtrpcException> onBroken;
  private final AtomicInteger strayResponses = new AtomicInteger();

  /**
   * @param onBroken told once when the connection fails (peer closed, protocol violation);
   *     the owner decides what that means for the sandbox
   */
  public TtrpcClient(ByteChannel channel, String name, Consumer<TtrpcException> onBroken) {
    this.channel = channel;
    this.reader = new FrameReader(channel);
    this.writer = new FrameWriter(channel);
    this.onBroken = onBroken;
    Thread thread = new Thread(this::readLoop, "ttrpc-reader-" + name);
    thread.setDaemon(true);
    thread.start();
  }

  /** Calls {@code service/method} and parses the reply, or throws with the call's status. */
  public <T extends MessageLite> T call(String service, String method, MessageLite request,
      Parser<T> responseParser, Duration timeout) throws TtrpcException {
    return await(callAsync(service, method, request, responseParser, timeout), method);
  }

  /**
   * Sends the call now and completes with the parsed reply, or exceptionally with a
   * {@link TtrpcException} (the call's status, a deadline, a broken connection). Replies complete
   * in the order the peer sends them, so calls a peer answers in order can be kept in flight
   * together (a pipeline) without losing their order.
   */
  public <T extends MessageLite> CompletableFuture<T> callAsync(String service, String method, MessageLite request,
      Parser<T> responseParser, Duration timeout) {
    TtrpcException failure = broken.get();
    if (failure != null) {
      return CompletableFuture.failedFuture(
          new TtrpcException(StatusCode.UNAVAILABLE, "connection is broken: " + failure.detail()));
    }
    if (pending.size() >= MAX_IN_FLIGHT) {
      return CompletableFuture.failedFuture(new TtrpcException(StatusCode.RESOURCE_EXHAUSTED,
          "more than " + MAX_IN_FLIGHT + " calls in flight on one connection"));
    }
    int streamId = nextStreamId.getAndAdd(2);
    CompletableFuture<Response> response = new CompletableFuture<>();
    pending.put(streamId, response);
    if (broken.get() != null) { // broke between the check above and the put: fail now, not at the deadline
      response.completeExceptionally(broken.get());
    }
    // However the call ends (answer, deadline, broken connection, caller gone), its stream is
    // forgotten before the caller hears of it: a reply that comes after the caller gave up is
    // then always counted as stray.
    CompletableFuture<T> reply = response.orTimeout(timeout.toNanos(), TimeUnit.NANOSECONDS)
        .whenComplete((r, error) -> pending.remove(streamId))
        .handle((r, error) -> {
          if (error != null) {
            throw new CompletionException(failureOf(error, method, timeout));
          }
          try {
            if (r.hasStatus() && r.getStatus().getCode() != 0) {
              throw new TtrpcException(StatusCode.of(r.getStatus().getCode()), r.getStatus().getMessage());
            }
            return parse(responseParser, r.getPayload(), method);
          } catch (TtrpcException e) {
            throw new CompletionException(e);
          }
        });
    // a caller that gives up (interrupted) forgets the stream at once, not at the deadline
    reply.whenComplete((r, error) -> {
      if (error instanceof CancellationException) {
        response.cancel(false);
      }
    });
    try {
      byte[] body = Request.newBuilder()
          .setService(service)
          .setMethod(method)
          .setPayload(request.toByteString())
          .setTimeoutNano(timeout.toNanos())
          .build()
          .toByteArray();
      writer.write(new Frame(streamId, Frame.TYPE_REQUEST, (byte) 0, body));
    } catch (IllegalArgumentException e) {
      response.completeExceptionally(new TtrpcException(StatusCode.RESOURCE_EXHAUSTED, e.getMessage()));
    } catch (IOException e) {
      response.completeExceptionally(
          new TtrpcException(StatusCode.UNAVAILABLE, "cannot send " + method + ": " + e.getMessage(), e));
    }
    return reply;
  }

  /** What a call's failure means to its caller: its status, a deadline, a broken connection. */
  private static TtrpcException failureOf(Throwable error, String method, Duration timeout) {
    Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    if (cause instanceof TtrpcException t) {
      return t;
    }
    if (cause instanceof TimeoutException) {
      return new TtrpcException(StatusCode.DEADLINE_EXCEEDED,
          method + " got no answer within " + timeout.toMillis() + " ms");
    }
    if (cause instanceof CancellationException) {
      return new TtrpcException(StatusCode.CANCELLED, method + " was cancelled");
    }
    return new TtrpcException(StatusCode.INTERNAL, String.valueOf(cause), cause);
  }

  /**
   * Waits for a call made with {@link #callAsync}. An interrupt cancels it (its stream is
   * forgotten; a late reply counts as stray).
   */
  public static <T> T await(CompletableFuture<T> reply, String method) throws TtrpcException {
    try {
      return reply.get();
    } catch (InterruptedException e) {
      reply.cancel(false);
      Thread.currentThread().interrupt();
      throw new TtrpcException(StatusCode.CANCELLED, method + " was interrupted");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof TtrpcException t) {
        // a fresh exception, so the stack shows this caller
        throw new TtrpcException(t.code(), t.detail(), t);
      }
      throw new TtrpcException(StatusCode.INTERNAL, String.valueOf(e.getCause()), e.getCause());
    }
  }

  private static <T> T parse(Parser<T> parser, ByteString payload, String method) throws TtrpcException {
    try {
      return parser.parseFrom(payload);
    } catch (InvalidProtocolBufferException e) {
      throw new TtrpcException(StatusCode.DATA_LOSS,
          "undecodable " + method + " response: " + e.getMessage());
    }
  }

  /** Responses to streams with no caller (late after a deadline, or invented by the peer). */
  public int strayResponses() {
    return strayResponses.get();
  }

  public boolean isBroken() {
    return broken.get() != null;
  }

  private void readLoop() {
    TtrpcException reason;
    try {
      while (true) {
        Frame frame = reader.read();
        if (frame == null) {
          reason = new TtrpcException(StatusCode.UNAVAILABLE, "peer closed the connection");
          break;
        }
        if (frame.type() != Frame.TYPE_RESPONSE) {
          continue; // ttrpc v1.1: ignore what we do not understand, for forward compatibility
        }
        Response response;
        try {
          response = Response.parseFrom(frame.payload());
        } catch (InvalidProtocolBufferException e) {
          reason = new TtrpcException(StatusCode.DATA_LOSS, "undecodable ttrpc response on stream "
              + frame.unsignedStreamId() + ": " + e.getMessage());
          break;
        }
        CompletableFuture<Response> future = pending.remove(frame.streamId());
        if (future == null) {
          strayResponses.incrementAndGet();
        } else {
          future.complete(response);
        }
      }
    } catch (IOException e) {
      reason = new TtrpcException(StatusCode.UNAVAILABLE, "connection failed: " + e.getMessage(), e);
    }
    fail(reason);
  }

  private void fail(TtrpcException reason) {
    if (!broken.compareAndSet(null, reason)) {
      return;
    }
    try {
      channel.close();
    } catch (IOException ignored) {
      // already failing; nothing more to report
    }
    // Tell the owner before waking callers, so a caller that sees the failure sees the verdict too.
    onBroken.accept(reason);
    pending.values().forEach(f -> f.completeExceptionally(reason));
    pending.clear();
  }

  @Override
  public void close() {
    fail(new TtrpcException(StatusCode.CANCELLED, "client closed"));
  }
}
