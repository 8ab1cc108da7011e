package io.isola.vmm.daemon;

import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.isola.proto.agent.v1.GetStatsResponse;
import io.isola.proto.agent.v1.StdioStream;
import io.isola.proto.v1.AttachRequest;
import io.isola.proto.v1.AttachResponse;
import io.isola.proto.v1.CloseStdinResponse;
import io.isola.proto.v1.Container;
import io.isola.proto.v1.ContainerRef;
import io.isola.proto.v1.ContainerStats;
import io.isola.proto.v1.ContainersGrpc;
import io.isola.proto.v1.CreateContainerRequest;
import io.isola.proto.v1.DeleteContainerRequest;
import io.isola.proto.v1.DeleteResponse;
import io.isola.proto.v1.ExecRequest;
import io.isola.proto.v1.ExecResponse;
import io.isola.proto.v1.ListContainersRequest;
import io.isola.proto.v1.ListContainersResponse;
import io.isola.proto.v1.LogChunk;
import io.isola.proto.v1.LogsRequest;
import io.isola.proto.v1.ProcessRef;
import io.isola.proto.v1.ResizeTtyRequest;
import io.isola.proto.v1.ResizeTtyResponse;
import io.isola.proto.v1.SignalRequest;
import io.isola.proto.v1.SignalResponse;
import io.isola.proto.v1.WaitResponse;
import io.isola.vmm.api.Ids;
import io.isola.vmm.api.Tenant;
import io.isola.vmm.api.Tenants;
import java.nio.file.Path;
import java.util.List;

/** gRPC front of the container model. */
final class ContainersService extends ContainersGrpc.ContainersImplBase {
  private final Supervisor supervisor;
  private final List<Path> imageRoots;

  /** @param imageRoots where non-admin tenants may name images from; admins may name any path */
  ContainersService(Supervisor supervisor, List<Path> imageRoots) {
    this.supervisor = supervisor;
    this.imageRoots = imageRoots;
  }

  @Override
  public void createContainer(CreateContainerRequest request, StreamObserver<Container> response) {
    Calls.unary(response, () -> {
      Tenant tenant = Tenants.current();
      Labels.validate(request.getLabelsMap(), "labels");
      String id = Ids.validateOrGenerate(request.getId(), "container id");
      String sandboxId = request.getSandboxId().isEmpty() ? "" : Ids.validate(request.getSandboxId(), "sandbox id");
      var size = request.getNewSandbox();
      if (!sandboxId.isEmpty() && request.hasNewSandbox()) {
        throw Failures.invalid("new_sandbox applies only when sandbox_id is empty");
      }
      Labels.validate(size.getLabelsMap(), "new_sandbox.labels");
      Labels.validate(size.getAnnotationsMap(), "new_sandbox.annotations");
      var newSandbox = new Supervisor.SandboxRequest(id, size.getVcpus(), size.getMemoryMib(), size.getKernel(),
          size.getBaseImage(), size.getLabelsMap(), size.getAnnotationsMap(),
          PlumbingRequests.network(size.getNetwork(), id));
      var record = supervisor.createContainer(tenant, new Supervisor.ContainerRequest(id, sandboxId,
          imagePath(tenant, request.getImage()),
          ProcessSpecs.withResources(ProcessSpecs.toRunOptions(request.getProcess()), request.getResources()),
          request.getProcess().getStdin(), request.getLabelsMap(), newSandbox,
          PlumbingRequests.volumes(request.getMountsList()), request.getShmSizeBytes()));
      if (Context.current().isCancelled()) {
        supervisor.deleteContainer(tenant, record.id(), true);
        throw Status.CANCELLED.withDescription("the call ended before the container was created; it was removed")
            .asRuntimeException();
      }
      return Protos.container(record);
    });
  }

  /**
   * The image is a path on the daemon's host: an admin may name any; other tenants only paths
   * under the configured image roots, so that no tenant can have host files copied into its VM.
   */
  private Path imagePath(Tenant tenant, String image) {
    if (image.isEmpty() || image.indexOf('\0') >= 0 || image.length() > 4096) {
      throw Failures.invalid("image must be a host path of an OCI image layout or a rootfs directory");
    }
    Path path = Path.of(image).toAbsolutePath().normalize();
    if (tenant.admin() || imageRoots.stream().anyMatch(root -> path.startsWith(root.toAbsolutePath().normalize()))) {
      return path;
    }
    throw Status.PERMISSION_DENIED.withDescription("image " + path + " is outside the image roots this tenant may use "
        + imageRoots + " ([daemon] image_roots in the isolad configuration)").asRuntimeException();
  }

  @Override
  public void startContainer(ContainerRef request, StreamObserver<Container> response) {
    Calls.unary(response, () -> Protos.container(
        supervisor.startContainer(Tenants.current(), Ids.validate(request.getId(), "container id"))));
  }

  @Override
  public void getContainer(ContainerRef request, StreamObserver<Container> response) {
    Calls.unary(response, () -> Protos.container(
        supervisor.getContainer(Tenants.current(), Ids.validate(request.getId(), "container id"))));
  }

  @Override
  public void listContainers(ListContainersRequest request, StreamObserver<ListContainersResponse> response) {
    Calls.unary(response, () -> {
      String sandboxId = request.getSandboxId().isEmpty() ? "" : Ids.validate(request.getSandboxId(), "sandbox id");
      ListContainersResponse.Builder out = ListContainersResponse.newBuilder();
      supervisor.listContainers(Tenants.current(), sandboxId).forEach(c -> out.addContainers(Protos.container(c)));
      return out.build();
    });
  }

  @Override
  public void exec(ExecRequest request, StreamObserver<ExecResponse> response) {
    Calls.unary(response, () -> {
      if (request.getProcess().getArgsCount() == 0) {
        throw Failures.invalid("exec needs a command (process.args)");
      }
      String execId = Ids.validateOrGenerate(request.getExecId(), "exec id");
      supervisor.exec(Tenants.current(), Ids.validate(request.getContainerId(), "container id"), execId,
          ProcessSpecs.toRunOptions(request.getProcess()), request.getProcess().getStdin());
      return ExecResponse.newBuilder().setExecId(execId).build();
    });
  }

  private static String execIdOf(ProcessRef ref) {
    return ref.getExecId().isEmpty() ? "" : Ids.validate(ref.getExecId(), "exec id");
  }

  @Override
  public void signal(SignalRequest request, StreamObserver<SignalResponse> response) {
    Calls.unary(response, () -> {
      supervisor.signal(Tenants.current(), Ids.validate(request.getProcess().getContainerId(), "container id"),
          execIdOf(request.getProcess()), request.getSignal());
      return SignalResponse.getDefaultInstance();
    });
  }

  @Override
  public void wait(ProcessRef request, StreamObserver<WaitResponse> response) {
    try {
      Tenant tenant = Tenants.current();
      supervisor.exitOf(tenant, Ids.validate(request.getContainerId(), "container id"), execIdOf(request))
          .whenComplete((status, error) -> {
            if (error != null) {
              response.onError(Status.UNAVAILABLE.withDescription(error.getMessage()).asRuntimeException());
              return;
            }
            response.onNext(WaitResponse.newBuilder().setExitStatus(status.getExitStatus())
                .setOomKilled(status.getOomKilled()).build());
            response.onCompleted();
          });
    } catch (StatusRuntimeException e) {
      response.onError(e);
    }
  }

  @Override
  public void closeStdin(ProcessRef request, StreamObserver<CloseStdinResponse> response) {
    Calls.unary(response, () -> {
      supervisor.closeStdin(Tenants.current(), Ids.validate(request.getContainerId(), "container id"), execIdOf(request));
      return CloseStdinResponse.getDefaultInstance();
    });
  }

  @Override
  public void resizeTty(ResizeTtyRequest request, StreamObserver<ResizeTtyResponse> response) {
    Calls.unary(response, () -> {
      if (request.getWidth() == 0 || request.getHeight() == 0 || request.getWidth() > 10000 || request.getHeight() > 10000) {
        throw Failures.invalid("width and height must be between 1 and 10000");
      }
      supervisor.resize(Tenants.current(), Ids.validate(request.getProcess().getContainerId(), "container id"),
          execIdOf(request.getProcess()), request.getWidth(), request.getHeight());
      return ResizeTtyResponse.getDefaultInstance();
    });
  }

  @Override
  public void stats(ContainerRef request, StreamObserver<ContainerStats> response) {
    Calls.unary(response, () -> {
      GetStatsResponse stats = supervisor.stats(Tenants.current(), Ids.validate(request.getId(), "container id"));
      return ContainerStats.newBuilder().setCpuUsageUsec(stats.getCpuUsageUsec())
          .setMemoryBytes(stats.getMemoryBytes()).setPids(stats.getPids()).build();
    });
  }

  @Override
  public void deleteContainer(DeleteContainerRequest request, StreamObserver<DeleteResponse> response) {
    Calls.unary(response, () -> {
      supervisor.deleteContainer(Tenants.current(), Ids.validate(request.getId(), "container id"), request.getForce());
      return DeleteResponse.getDefaultInstance();
    });
  }

  @Override
  public void pauseContainer(ContainerRef request, StreamObserver<Container> response) {
    Calls.unary(response, () -> Protos.container(
        supervisor.setPaused(Tenants.current(), Ids.validate(request.getId(), "container id"), true)));
  }

  @Override
  public void resumeContainer(ContainerRef request, StreamObserver<Container> response) {
    Calls.unary(response, () -> Protos.container(
        supervisor.setPaused(Tenants.current(), Ids.validate(request.getId(), "container id"), false)));
  }

  @Override
  public void logs(LogsRequest request, StreamObserver<LogChunk> response) {
    ServerCallStreamObserver<LogChunk> stream = (ServerCallStreamObserver<LogChunk>) response;
    try {
      ProcessLogs.Reader reader = supervisor.logOf(Tenants.current(),
          Ids.validate(request.getContainerId(), "container id"), "");
      java.util.function.Consumer<ProcessLogs.Chunk> send = chunk -> stream.onNext(LogChunk.newBuilder()
          .setStream(chunk.stream() == StdioStream.STDERR ? LogChunk.Stream.STDERR : LogChunk.Stream.STDOUT)
          .setData(com.google.protobuf.ByteString.copyFrom(chunk.data())).build());
      if (request.getFollow()) {
        Context context = Context.current();
        reader.follow(send, () -> stream.isCancelled() || context.isCancelled());
      } else {
        reader.readAll(send);
      }
      stream.onCompleted();
    } catch (StatusRuntimeException e) {
      response.onError(e);
    } catch (RuntimeException e) {
      response.onError(Status.INTERNAL.withDescription("cannot read the log: " + e.getMessage()).asRuntimeException());
    }
  }

  @Override
  public StreamObserver<AttachRequest> attach(StreamObserver<AttachResponse> response) {
    return new AttachHandler(supervisor, Tenants.current(), (ServerCallStreamObserver<AttachResponse>) response);
  }
}
