package io.isola.vmm.daemon;

import io.grpc.stub.StreamObserver;
import io.isola.proto.v1.CreateSandboxRequest;
import io.isola.proto.v1.DeleteResponse;
import io.isola.proto.v1.ListSandboxesRequest;
import io.isola.proto.v1.ListSandboxesResponse;
import io.isola.proto.v1.Sandbox;
import io.isola.proto.v1.SandboxRef;
import io.isola.proto.v1.SandboxesGrpc;
import io.isola.proto.v1.StopSandboxRequest;
import io.isola.vmm.api.Ids;
import io.isola.vmm.api.Tenant;
import io.isola.vmm.api.Tenants;
import io.isola.vmm.state.SandboxRecord;
import java.time.Duration;

/** gRPC front of the sandbox model: validation and translation only. */
final class SandboxesService extends SandboxesGrpc.SandboxesImplBase {
  private final Supervisor supervisor;

  SandboxesService(Supervisor supervisor) {
    this.supervisor = supervisor;
  }

  private Sandbox toProto(SandboxRecord r) {
    return Protos.sandbox(r, supervisor.containerIds(r.id()));
  }

  @Override
  public void createSandbox(CreateSandboxRequest request, StreamObserver<Sandbox> response) {
    Calls.unary(response, () -> {
      Tenant tenant = Tenants.current();
      Labels.validate(request.getLabelsMap(), "labels");
      Labels.validate(request.getAnnotationsMap(), "annotations");
      String id = Ids.validateOrGenerate(request.getId(), "sandbox id");
      SandboxRecord record = supervisor.createSandbox(tenant, new Supervisor.SandboxRequest(
          id, request.getVcpus(), request.getMemoryMib(), request.getKernel(), request.getBaseImage(),
          request.getLabelsMap(), request.getAnnotationsMap(), PlumbingRequests.network(request.getNetwork(), id)));
      if (io.grpc.Context.current().isCancelled()) {
        // Nobody will learn this sandbox's id: do not leave it running.
        supervisor.deleteSandbox(tenant, record.id());
        throw io.grpc.Status.CANCELLED.withDescription("the call ended before the sandbox was ready; it was removed")
            .asRuntimeException();
      }
      return toProto(record);
    });
  }

  @Override
  public void getSandbox(SandboxRef request, StreamObserver<Sandbox> response) {
    Calls.unary(response, () -> toProto(supervisor.getSandbox(Tenants.current(), Ids.validate(request.getId(), "sandbox id"))));
  }

  @Override
  public void listSandboxes(ListSandboxesRequest request, StreamObserver<ListSandboxesResponse> response) {
    Calls.unary(response, () -> {
      Tenant tenant = Tenants.current();
      // One query for all the tenant's containers rather than one per sandbox.
      java.util.Map<String, java.util.List<String>> containers = supervisor.listContainers(tenant, "").stream()
          .collect(java.util.stream.Collectors.groupingBy(c -> c.sandboxId(),
              java.util.stream.Collectors.mapping(c -> c.id(), java.util.stream.Collectors.toList())));
      ListSandboxesResponse.Builder out = ListSandboxesResponse.newBuilder();
      supervisor.listSandboxes(tenant, request.getLabelSelectorMap()).forEach(r -> out.addSandboxes(
          Protos.sandbox(r, containers.getOrDefault(r.id(), java.util.List.of()))));
      return out.build();
    });
  }

  @Override
  public void stopSandbox(StopSandboxRequest request, StreamObserver<Sandbox> response) {
    Calls.unary(response, () -> {
      int timeout = request.getTimeoutSeconds() == 0 ? 10 : request.getTimeoutSeconds();
      if (timeout > 300) {
        throw Failures.invalid("timeout_seconds must be at most 300, got " + timeout);
      }
      return toProto(supervisor.stopSandbox(Tenants.current(), Ids.validate(request.getId(), "sandbox id"),
          Duration.ofSeconds(timeout)));
    });
  }

  @Override
  public void updateSandbox(io.isola.proto.v1.UpdateSandboxRequest request, StreamObserver<Sandbox> response) {
    Calls.unary(response, () -> {
      Tenant tenant = Tenants.current();
      SandboxRecord record = supervisor.getSandbox(tenant, Ids.validate(request.getId(), "sandbox id"));
      if ((request.getVcpus() != 0 && request.getVcpus() != record.vcpus())
          || (request.getMemoryMib() != 0 && request.getMemoryMib() != record.memoryMib())) {
        throw Failures.precondition("the QEMU microvm backend cannot resize a running VM; "
            + "create a new sandbox of the size you need");
      }
      if (request.getUpdateLabels()) {
        Labels.validate(request.getLabelsMap(), "labels");
        record = supervisor.relabel(tenant, record.id(), request.getLabelsMap());
      }
      return toProto(record);
    });
  }

  @Override
  public void deleteSandbox(SandboxRef request, StreamObserver<DeleteResponse> response) {
    Calls.unary(response, () -> {
      supervisor.deleteSandbox(Tenants.current(), Ids.validate(request.getId(), "sandbox id"));
      return DeleteResponse.getDefaultInstance();
    });
  }
}
