package io.isola.vmm.cli.client;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.isola.proto.v1.AttachRequest;
import io.isola.proto.v1.AttachResponse;
import io.isola.proto.v1.ProcessRef;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.CompletableFuture;

/**
 * One process's stdio over the Attach stream: output to local streams, optionally stdin up,
 * and the exit status at the end.
 */
final class AttachSession {
  private final CompletableFuture<Integer> exit = new CompletableFuture<>();
  private final StreamObserver<AttachRequest> requests;

  private AttachSession(DaemonClient client, ProcessRef process, OutputStream out, OutputStream err) {
    requests = client.containersAsync().attach(new StreamObserver<>() {
      @Override
      public void onNext(AttachResponse response) {
        try {
          if (!response.getStdout().isEmpty()) {
            response.getStdout().writeTo(out);
            out.flush();
          }
          if (!response.getStderr().isEmpty()) {
            response.getStderr().writeTo(err);
            err.flush();
          }
        } catch (IOException e) {
          // the local reader went away; keep draining so the process is not blocked
        }
        if (response.getExited()) {
          exit.complete(response.getExitStatus());
        }
      }

      @Override
      public void onError(Throwable t) {
        exit.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        exit.completeExceptionally(Status.UNAVAILABLE.withDescription("the attach stream ended before the process exited")
            .asRuntimeException());
      }
    });
    requests.onNext(AttachRequest.newBuilder().setProcess(process).setReplay(true).build());
  }

  static AttachSession open(DaemonClient client, ProcessRef process, OutputStream out, OutputStream err) {
    return new AttachSession(client, process, out, err);
  }

  /** Sends {@code in} as the process's stdin on a daemon thread; EOF closes the process's stdin. */
  void forwardStdin(InputStream in) {
    Thread thread = new Thread(() -> {
      byte[] buffer = new byte[64 * 1024];
      try {
        int n;
        while ((n = in.read(buffer)) >= 0) {
          if (n > 0) {
            synchronized (requests) {
              requests.onNext(AttachRequest.newBuilder().setStdin(ByteString.copyFrom(buffer, 0, n)).build());
            }
          }
        }
        synchronized (requests) {
          requests.onNext(AttachRequest.newBuilder().setCloseStdin(true).build());
        }
      } catch (IOException | RuntimeException e) {
        // the stream is over; the exit status says how the process ended
      }
    }, "attach-stdin");
    thread.setDaemon(true);
    thread.start();
  }

  /** Blocks until the process exits; its exit status. */
  int awaitExit() {
    try {
      return exit.join();
    } finally {
      synchronized (requests) {
        try {
          requests.onCompleted();
        } catch (RuntimeException ignored) {
          // already closed
        }
      }
    }
  }
}
