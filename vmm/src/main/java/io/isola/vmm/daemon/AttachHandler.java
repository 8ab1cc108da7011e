package io.isola.vmm.daemon;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.isola.proto.agent.v1.StdioStream;
import io.isola.proto.v1.AttachRequest;
import io.isola.proto.v1.AttachResponse;
import io.isola.vmm.api.Ids;
import io.isola.vmm.api.Tenant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One Attach stream: the first request names the process; output flows down as it is
 * produced (after the log so far, with replay), stdin flows up, and the last message carries
 * the exit status. A client too slow to take its output is cut off (the log keeps everything).
 */
final class AttachHandler implements StreamObserver<AttachRequest> {
  private static final int MAX_BACKLOG = 256;

  private final Supervisor supervisor;
  private final Tenant tenant;
  private final ServerCallStreamObserver<AttachResponse> response;
  private String containerId;
  private String execId;
  private ProcessOutput output;
  private ProcessOutput.Listener listener;
  private int backlog;
  private boolean finished;

  AttachHandler(Supervisor supervisor, Tenant tenant, ServerCallStreamObserver<AttachResponse> response) {
    this.supervisor = supervisor;
    this.tenant = tenant;
    this.response = response;
    response.setOnCancelHandler(this::detach);
  }

  @Override
  public void onNext(AttachRequest request) {
    try {
      if (containerId == null) {
        start(request);
        return;
      }
      if (!request.getStdin().isEmpty()) {
        supervisor.writeStdin(tenant, containerId, execId, request.getStdin());
      }
      if (request.getCloseStdin()) {
        supervisor.closeStdin(tenant, containerId, execId);
      }
    } catch (StatusRuntimeException e) {
      fail(e);
    }
  }

  private void start(AttachRequest first) {
    containerId = Ids.validate(first.getProcess().getContainerId(), "container id");
    execId = first.getProcess().getExecId().isEmpty() ? "" : Ids.validate(first.getProcess().getExecId(), "exec id");
    CompletableFuture<io.isola.proto.agent.v1.WaitProcessResponse> exit = supervisor.exitOf(tenant, containerId, execId);
    Optional<ProcessOutput> live = supervisor.output(tenant, containerId, execId);
    listener = (stream, data) -> send(stream, data);
    Runnable replay = first.getReplay()
        ? () -> supervisor.logOf(tenant, containerId, execId).readAll(c -> send(c.stream(), ByteString.copyFrom(c.data())))
        : () -> { };
    CompletableFuture<Void> outputDone;
    if (live.isPresent()) {
      output = live.get();
      output.addListenerAfter(replay, listener);
      outputDone = output.done();
    } else {
      replay.run();
      outputDone = CompletableFuture.completedFuture(null);
    }
    // The exit status goes last, after the output has drained (bounded: a daemonised child may
    // hold the streams open).
    exit.thenAcceptBoth(outputDone.completeOnTimeout(null, 10, TimeUnit.SECONDS), (status, ignored) -> {
      detach();
      synchronized (this) {
        if (finished) {
          return;
        }
        finished = true;
        response.onNext(AttachResponse.newBuilder().setExited(true).setExitStatus(status.getExitStatus()).build());
        response.onCompleted();
      }
    });
  }

  private synchronized void send(StdioStream stream, ByteString data) {
    if (finished || response.isCancelled()) {
      return;
    }
    backlog = response.isReady() ? 0 : backlog + 1;
    if (backlog > MAX_BACKLOG) {
      fail(Status.RESOURCE_EXHAUSTED.withDescription("attach client is not reading its output; "
          + "the container's log has it (isola logs)").asRuntimeException());
      return;
    }
    AttachResponse.Builder message = AttachResponse.newBuilder();
    if (stream == StdioStream.STDERR) {
      message.setStderr(data);
    } else {
      message.setStdout(data);
    }
    response.onNext(message.build());
  }

  private synchronized void fail(StatusRuntimeException e) {
    detach();
    if (!finished) {
      finished = true;
      response.onError(e);
    }
  }

  private void detach() {
    if (output != null && listener != null) {
      output.removeListener(listener);
    }
  }

  @Override
  public void onError(Throwable t) {
    detach();
  }

  @Override
  public void onCompleted() {
    // The client closed its side (no more stdin); output keeps flowing until the process exits.
  }
}
