package io.isola.ttrpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.isola.proto.ttrpc.Request;
import io.isola.proto.ttrpc.Response;
import io.isola.proto.ttrpc.Status;
import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.ByteChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A ttrpc server: reads requests from each connection and runs them concurrently on an
 * executor (ttrpc peers keep many calls in flight and expect answers out of order).
 *
 * <p>Wire-level faults are answered as the ttrpc reference server answers them: even stream
 * ids get INVALID_ARGUMENT, oversized frames RESOURCE_EXHAUSTED (the body is skipped, never
 * allocated), unknown frame types are ignored, unknown methods get UNIMPLEMENTED.
 */
public final class TtrpcServer implements Closeable {
  private static final Logger LOG = Logger.getLogger(TtrpcServer.class.getName());

  /** One unary method: request payload in, response payload out. */
  @FunctionalInterface
  public interface Method {
    ByteString handle(ByteString request) throws TtrpcException, InvalidProtocolBufferException;
  }

  private final Map<String, Method> methods;
  private final ExecutorService executor;
  private final Set<ByteChannel> connections = ConcurrentHashMap.newKeySet();
  private volatile ServerSocketChannel listener;

  private TtrpcServer(Map<String, Method> methods, ExecutorService executor) {
    this.methods = Map.copyOf(methods);
    this.executor = executor;
  }

  public static Builder builder(ExecutorService executor) {
    return new Builder(executor);
  }

  /** Registers methods by "service/method" key. */
  public static final class Builder {
    private final Map<String, Method> methods = new HashMap<>();
    private final ExecutorService executor;

    private Builder(ExecutorService executor) {
      this.executor = executor;
    }

    public Builder method(String service, String method, Method handler) {
      methods.put(service + "/" + method, handler);
      return this;
    }

    public TtrpcServer build() {
      return new TtrpcServer(methods, executor);
    }
  }

  /** Accepts connections on {@code listener} on a daemon thread until closed. */
  public void serve(ServerSocketChannel listener) {
    this.listener = listener;
    Thread acceptor = new Thread(() -> {
      while (listener.isOpen()) {
        try {
          SocketChannel connection = listener.accept();
          serveConnection(connection);
        } catch (IOException e) {
          if (listener.isOpen()) {
            LOG.log(Level.WARNING, "ttrpc accept failed", e);
          }
        }
      }
    }, "ttrpc-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** Serves one already-connected channel on a daemon thread until the peer goes away. */
  public void serveConnection(ByteChannel connection) {
    connections.add(connection);
    Thread thread = new Thread(() -> readLoop(connection), "ttrpc-conn");
    thread.setDaemon(true);
    thread.start();
  }

  private void readLoop(ByteChannel connection) {
    FrameReader reader = new FrameReader(connection);
    FrameWriter writer = new FrameWriter(connection);
    try {
      while (true) {
        Frame frame;
        try {
          frame = reader.read();
        } catch (FrameTooLargeException e) {
          reply(writer, e.streamId(), StatusCode.RESOURCE_EXHAUSTED, e.getMessage(), ByteString.EMPTY);
          continue;
        }
        if (frame == null) {
          break;
        }
        if (frame.type() != Frame.TYPE_REQUEST) {
          continue;
        }
        if ((frame.streamId() & 1) == 0) {
          reply(writer, frame.streamId(), StatusCode.INVALID_ARGUMENT,
              "client stream ids must be odd, got " + frame.unsignedStreamId(), ByteString.EMPTY);
          continue;
        }
        executor.execute(() -> dispatch(writer, frame));
      }
    } catch (IOException e) {
      LOG.log(Level.FINE, "ttrpc connection ended", e);
    } finally {
      connections.remove(connection);
      try {
        connection.close();
      } catch (IOException ignored) {
        // closing after a failure
      }
    }
  }

  private void dispatch(FrameWriter writer, Frame frame) {
    StatusCode code = StatusCode.OK;
    String message = "";
    ByteString payload = ByteString.EMPTY;
    String name = "?";
    try {
      Request request = Request.parseFrom(frame.payload());
      name = request.getMethod();
      LOG.fine(() -> "ttrpc stream " + frame.unsignedStreamId() + ": " + request.getMethod());
      Method method = methods.get(request.getService() + "/" + request.getMethod());
      if (method == null) {
        throw new TtrpcException(StatusCode.UNIMPLEMENTED,
            "unknown method " + request.getService() + "/" + request.getMethod());
      }
      payload = method.handle(request.getPayload());
    } catch (InvalidProtocolBufferException e) {
      code = StatusCode.INVALID_ARGUMENT;
      message = "undecodable request: " + e.getMessage();
    } catch (TtrpcException e) {
      code = e.code();
      message = e.detail();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "ttrpc method failed", e);
      code = StatusCode.INTERNAL;
      message = String.valueOf(e);
    }
    if (payload.size() > Frame.MAX_PAYLOAD - 64) {
      code = StatusCode.RESOURCE_EXHAUSTED;
      message = "response of " + payload.size() + " bytes does not fit in a ttrpc frame";
      payload = ByteString.EMPTY;
    }
    String called = name;
    StatusCode answered = code;
    LOG.fine(() -> "ttrpc stream " + frame.unsignedStreamId() + ": " + called + " answered " + answered);
    try {
      reply(writer, frame.streamId(), code, message, payload);
    } catch (IOException e) {
      LOG.log(Level.FINE, "cannot answer ttrpc stream " + frame.unsignedStreamId(), e);
    }
  }

  private static void reply(FrameWriter writer, int streamId, StatusCode code, String message,
      ByteString payload) throws IOException {
    Response.Builder response = Response.newBuilder().setPayload(payload);
    if (code != StatusCode.OK) {
      response.setStatus(Status.newBuilder().setCode(code.value()).setMessage(message));
    }
    writer.write(new Frame(streamId, Frame.TYPE_RESPONSE, (byte) 0, response.build().toByteArray()));
  }

  @Override
  public void close() throws IOException {
    if (listener != null) {
      listener.close();
    }
    for (ByteChannel connection : connections) {
      connection.close();
    }
  }
}
