package io.isola.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.ManagedChannel;
import io.isola.proto.v1.ContainerRef;
import io.isola.proto.v1.ContainersGrpc;
import io.isola.proto.v1.CreateContainerRequest;
import io.isola.proto.v1.CreateSandboxRequest;
import io.isola.proto.v1.GetHostInfoRequest;
import io.isola.proto.v1.HostGrpc;
import io.isola.proto.v1.ProcessRef;
import io.isola.proto.v1.ProcessSpec;
import io.isola.proto.v1.SandboxRef;
import io.isola.proto.v1.SandboxesGrpc;
import io.isola.it.containerd.ContainerdProcess;
import io.isola.vmm.api.ApiClients;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** isolad with warm_pool_size = 1: a pre-booted VM is taken by one sandbox, once, and replaced. */
class WarmPoolIT {
  @TempDir Path dir;

  /** QEMU pids of the VMs in the pool (a taken VM's directory moves to sandboxes/). */
  private static Set<Long> pooled(IsoladProcess isolad) throws java.io.IOException {
    Path pool = isolad.runRoot.resolve("pool");
    if (!java.nio.file.Files.isDirectory(pool)) {
      return Set.of();
    }
    try (var dirs = java.nio.file.Files.list(pool)) {
      return dirs.map(d -> d.resolve("qemu.pid")).filter(java.nio.file.Files::exists).map(f -> {
        try {
          return Long.parseLong(java.nio.file.Files.readString(f).strip());
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }).collect(Collectors.toSet());
    }
  }

  /** Waits until isolad reports a warm VM (at most 60 s). */
  static void awaitWarm(ManagedChannel channel) throws InterruptedException {
    for (int i = 0; i < 120; i++) {
      if (HostGrpc.newBlockingStub(channel).getHostInfo(GetHostInfoRequest.getDefaultInstance()).getWarmVms() > 0) {
        return;
      }
      Thread.sleep(500);
    }
    throw new AssertionError("the warm pool did not fill within 60 s");
  }

  @Test
  void aWarmVmServesOneSandboxAndIsReplacedAndACrashLeavesNone() throws Exception {
    IsoladProcess isolad = new IsoladProcess(dir, "[daemon]\nwarm_pool_size = 1\n").start();
    try {
      ManagedChannel channel = ApiClients.unix(isolad.socket);
      awaitWarm(channel);
      Set<Long> pooled = pooled(isolad);
      assertEquals(1, pooled.size(), "one warm VM");
      long warmPid = pooled.iterator().next();

      var sandboxes = SandboxesGrpc.newBlockingStub(channel).withDeadlineAfter(300, TimeUnit.SECONDS);
      var containers = ContainersGrpc.newBlockingStub(channel).withDeadlineAfter(300, TimeUnit.SECONDS);
      sandboxes.createSandbox(CreateSandboxRequest.newBuilder().setId("w1").build());
      assertTrue(ProcessHandle.of(warmPid).map(ProcessHandle::isAlive).orElse(false),
          "the sandbox took the warm VM instead of booting one");
      containers.createContainer(CreateContainerRequest.newBuilder().setId("w1c").setSandboxId("w1")
          .setImage(IsolaProcess.DEMO_IMAGE.toString())
          .setProcess(ProcessSpec.newBuilder().addAllArgs(List.of("sh", "-c", "hostname; exit 3"))).build());
      containers.startContainer(ContainerRef.newBuilder().setId("w1c").build());
      assertEquals(3, containers.wait(ProcessRef.newBuilder().setContainerId("w1c").build()).getExitStatus());

      awaitWarm(channel);
      Set<Long> refilled = pooled(isolad);
      assertFalse(refilled.contains(warmPid), "the pool got a new VM; the taken one is not in it");
      assertEquals(1, refilled.size());

      // The jailed QEMU stays in the cgroup it was booted in, named after its pool id.
      String cgroup = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc", Long.toString(warmPid), "cgroup"))
          .stream().filter(l -> l.contains(":memory:")).findFirst().orElseThrow();
      java.nio.file.Path memoryCgroup = java.nio.file.Path.of("/sys/fs/cgroup/memory" + cgroup.split(":", 3)[2]);
      assertTrue(memoryCgroup.getFileName().toString().startsWith("pool-"), cgroup);
      channel.shutdownNow();

      long orphan = refilled.iterator().next();
      isolad.kill9();
      isolad.start();
      ProcessHandle.of(orphan).ifPresent(p -> p.onExit().orTimeout(30, TimeUnit.SECONDS).join());
      assertFalse(ProcessHandle.of(orphan).map(ProcessHandle::isAlive).orElse(false),
          "a warm VM left by a killed isolad is removed when it starts again");

      // The sandbox that took a warm VM is re-adopted with its jail, and its cgroup goes with it.
      channel = ApiClients.unix(isolad.socket);
      var again = SandboxesGrpc.newBlockingStub(channel).withDeadlineAfter(300, TimeUnit.SECONDS);
      assertEquals(io.isola.proto.v1.SandboxState.SANDBOX_RUNNING,
          again.getSandbox(SandboxRef.newBuilder().setId("w1").build()).getState(), isolad.log());
      assertTrue(java.nio.file.Files.isDirectory(memoryCgroup), "the adopted VM's cgroup is still its own");
      again.deleteSandbox(SandboxRef.newBuilder().setId("w1").build());
      ProcessHandle.of(warmPid).ifPresent(p -> p.onExit().orTimeout(30, TimeUnit.SECONDS).join());
      assertFalse(ProcessHandle.of(warmPid).map(ProcessHandle::isAlive).orElse(false),
          "the VM went with its sandbox: never reused");
      assertFalse(java.nio.file.Files.exists(memoryCgroup), "its cgroup went with it");
      channel.shutdownNow();
    } finally {
      isolad.close();
    }
    assertEquals(List.of(), IsolaProcess.qemuProcessesUnder(dir), "isolad stops its warm VMs");
    assertEquals(List.of(), ContainerdProcess.mountsUnder(dir), "no mount left");
  }

  /**
   * isolad stopped while its warm VM is still booting: the refill is interrupted half way, and
   * its clean-up must still kill QEMU and undo the layer and share mounts.
   */
  @Test
  void aStopDuringAWarmBootLeavesNoVmAndNoMount() throws Exception {
    IsoladProcess isolad = new IsoladProcess(dir, "[daemon]\nwarm_pool_size = 1\n").start();
    try {
      for (int i = 0; i < 600 && pooled(isolad).isEmpty(); i++) {
        Thread.sleep(50);
      }
      assertEquals(1, pooled(isolad).size(), "a warm VM is booting");
      ManagedChannel channel = ApiClients.unix(isolad.socket);
      assertEquals(0, HostGrpc.newBlockingStub(channel).getHostInfo(GetHostInfoRequest.getDefaultInstance())
          .getWarmVms(), "stopped before the warm VM was ready");
      channel.shutdownNow();
    } finally {
      isolad.close();
    }
    assertEquals(List.of(), IsolaProcess.qemuProcessesUnder(dir), "the booting VM is stopped");
    assertEquals(List.of(), ContainerdProcess.mountsUnder(dir), "no mount left");
  }
}
