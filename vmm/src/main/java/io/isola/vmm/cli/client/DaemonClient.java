package io.isola.vmm.cli.client;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.isola.proto.v1.ContainersGrpc;
import io.isola.proto.v1.EventsGrpc;
import io.isola.proto.v1.HostGrpc;
import io.isola.proto.v1.SandboxesGrpc;
import io.isola.vmm.api.ApiClients;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** A connection to isolad for one CLI command. */
public final class DaemonClient implements AutoCloseable {
  private final Path socket;
  private final ManagedChannel channel;

  private DaemonClient(Path socket, ManagedChannel channel) {
    this.socket = socket;
    this.channel = channel;
  }

  public static DaemonClient connect(Path socket) {
    return new DaemonClient(socket, ApiClients.unix(socket));
  }

  /** True when something listens on the socket (a daemon to talk to). */
  public static boolean reachable(Path socket) {
    if (!Files.exists(socket)) {
      return false;
    }
    try (DaemonClient client = connect(socket)) {
      client.host().withDeadlineAfter(2, TimeUnit.SECONDS)
          .getHostInfo(io.isola.proto.v1.GetHostInfoRequest.getDefaultInstance());
      return true;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode() != Status.Code.UNAVAILABLE;
    }
  }

  public SandboxesGrpc.SandboxesBlockingStub sandboxes() {
    return SandboxesGrpc.newBlockingStub(channel);
  }

  public ContainersGrpc.ContainersBlockingStub containers() {
    return ContainersGrpc.newBlockingStub(channel);
  }

  public ContainersGrpc.ContainersStub containersAsync() {
    return ContainersGrpc.newStub(channel);
  }

  public EventsGrpc.EventsBlockingStub events() {
    return EventsGrpc.newBlockingStub(channel);
  }

  public HostGrpc.HostBlockingStub host() {
    return HostGrpc.newBlockingStub(channel);
  }

  /** A message for a failed call, naming what the user can do. */
  public String explain(StatusRuntimeException e) {
    if (e.getStatus().getCode() == Status.Code.UNAVAILABLE) {
      return "cannot reach isolad at " + socket + ": start it (bin/isolad) or point --socket / ISOLA_SOCKET at it";
    }
    String description = e.getStatus().getDescription();
    return e.getStatus().getCode() + ": " + (description == null ? "(no detail)" : description);
  }

  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(1, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
