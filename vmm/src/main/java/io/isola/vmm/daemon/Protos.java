package io.isola.vmm.daemon;

import com.google.protobuf.Timestamp;
import io.isola.proto.v1.Container;
import io.isola.proto.v1.ContainerState;
import io.isola.proto.v1.Sandbox;
import io.isola.proto.v1.SandboxState;
import io.isola.vmm.state.ContainerRecord;
import io.isola.vmm.state.SandboxRecord;
import java.time.Instant;
import java.util.List;

/** Stored records as API messages. */
final class Protos {
  private Protos() {}

  static Timestamp time(Instant instant) {
    return instant == null ? Timestamp.getDefaultInstance()
        : Timestamp.newBuilder().setSeconds(instant.getEpochSecond()).setNanos(instant.getNano()).build();
  }

  static Sandbox sandbox(SandboxRecord r, List<String> containerIds) {
    SandboxState state = switch (r.state()) {
      case CREATING -> SandboxState.SANDBOX_CREATING;
      case RUNNING -> SandboxState.SANDBOX_RUNNING;
      case STOPPED -> SandboxState.SANDBOX_STOPPED;
      case DIED -> SandboxState.SANDBOX_DIED;
    };
    return Sandbox.newBuilder().setId(r.id()).setTenant(r.tenant()).setState(state).setVcpus(r.vcpus())
        .setMemoryMib((int) r.memoryMib()).setKernel(r.kernel()).setBaseImage(r.baseImage())
        .putAllLabels(r.labels()).putAllAnnotations(r.annotations()).setCreatedAt(time(r.createdAt()))
        .setGuestKernelRelease(nullToEmpty(r.guestKernelRelease())).setGuestBootId(nullToEmpty(r.guestBootId()))
        .setStopReason(nullToEmpty(r.stopReason())).addAllContainerIds(containerIds)
        .mergeFrom(network(r)).build();
  }

  static Container container(ContainerRecord r) {
    ContainerState state = switch (r.state()) {
      case CREATED -> ContainerState.CONTAINER_CREATED;
      case RUNNING -> ContainerState.CONTAINER_RUNNING;
      case PAUSED -> ContainerState.CONTAINER_PAUSED;
      case EXITED -> ContainerState.CONTAINER_EXITED;
    };
    return Container.newBuilder().setId(r.id()).setSandboxId(r.sandboxId()).setTenant(r.tenant()).setState(state)
        .setImage(r.image()).addAllArgs(r.args()).setExitStatus(r.exitStatus()).setOomKilled(r.oomKilled())
        .setCreatedAt(time(r.createdAt())).setStartedAt(time(r.startedAt())).setExitedAt(time(r.exitedAt()))
        .putAllLabels(r.labels()).setTty(r.tty()).build();
  }

  /** The sandbox's network as its state directory records it (empty for sandboxes made before). */
  private static Sandbox network(SandboxRecord r) {
    return io.isola.vmm.network.NetworkState.read(java.nio.file.Path.of(r.stateDir()))
        .map(n -> Sandbox.newBuilder().setNetwork(PlumbingRequests.toProto(
            io.isola.vmm.network.NetworkSpec.Mode.valueOf(n.mode()), n.netns(), n.hostname()))
            .addAllGuestAddresses(n.addresses()).build())
        .orElse(Sandbox.getDefaultInstance());
  }

  private static String nullToEmpty(String s) {
    return s == null ? "" : s;
  }
}
