package io.isola.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.isola.proto.v1.AttachRequest;
import io.isola.proto.v1.AttachResponse;
import io.isola.proto.v1.Container;
import io.isola.proto.v1.ContainerRef;
import io.isola.proto.v1.ContainerState;
import io.isola.proto.v1.ContainersGrpc;
import io.isola.proto.v1.CreateContainerRequest;
import io.isola.proto.v1.CreateSandboxRequest;
import io.isola.proto.v1.Event;
import io.isola.proto.v1.EventsGrpc;
import io.isola.proto.v1.ExecRequest;
import io.isola.proto.v1.SubscribeRequest;
import io.isola.proto.v1.ListSandboxesRequest;
import io.isola.proto.v1.LogChunk;
import io.isola.proto.v1.LogsRequest;
import io.isola.proto.v1.ProcessRef;
import io.isola.proto.v1.ProcessSpec;
import io.isola.proto.v1.Sandbox;
import io.isola.proto.v1.SandboxRef;
import io.isola.proto.v1.SandboxState;
import io.isola.proto.v1.SandboxesGrpc;
import io.isola.vmm.api.ApiClients;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** isolad end to end: the real daemon, real VMs, clients over its Unix socket. */
class DaemonIT {
  private static final String CONFIG = """
      [[tenants]]
      name = "alice"
      uids = [1000]
      [tenants.quota]
      sandboxes = 1
      vcpus = 4
      memory_mib = 1024
      """;
  @TempDir static Path dir;
  private static IsoladProcess isolad;
  private static ManagedChannel channel;
  private static SandboxesGrpc.SandboxesBlockingStub sandboxes;
  private static ContainersGrpc.ContainersBlockingStub containers;
  private static String image;

  @BeforeAll
  static void start() throws Exception {
    image = IsolaProcess.DEMO_IMAGE.toString();
    isolad = new IsoladProcess(dir, CONFIG).start();
    connect();
  }

  private static void connect() {
    channel = ApiClients.unix(isolad.socket);
    sandboxes = SandboxesGrpc.newBlockingStub(channel);
    containers = ContainersGrpc.newBlockingStub(channel);
  }

  @AfterAll
  static void stop() throws Exception {
    channel.shutdownNow();
    isolad.close();
    assertEquals(List.of(), IsolaProcess.qemuProcessesUnder(dir), "no QEMU outlives isolad --shutdown-sandboxes");
  }

  private static Container run(String sandboxId, String... args) {
    Container c = containers.createContainer(CreateContainerRequest.newBuilder().setSandboxId(sandboxId)
        .setImage(image).setProcess(ProcessSpec.newBuilder().addAllArgs(List.of(args))).build());
    return containers.startContainer(ContainerRef.newBuilder().setId(c.getId()).build());
  }

  private static int waitFor(String containerId, String execId) {
    return containers.withDeadlineAfter(120, TimeUnit.SECONDS)
        .wait(ProcessRef.newBuilder().setContainerId(containerId).setExecId(execId).build()).getExitStatus();
  }

  private static String logs(String containerId, LogChunk.Stream stream) {
    StringBuilder out = new StringBuilder();
    Iterator<LogChunk> chunks = containers.logs(LogsRequest.newBuilder().setContainerId(containerId).build());
    chunks.forEachRemaining(c -> {
      if (c.getStream() == stream) {
        out.append(c.getData().toStringUtf8());
      }
    });
    return out.toString();
  }

  @Test
  void lifecycleEndToEndWithLogsAfterExit() throws Exception {
    List<Event> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    io.grpc.Context.CancellableContext subscription = io.grpc.Context.current().withCancellation();
    subscription.run(() -> EventsGrpc.newStub(channel).subscribe(SubscribeRequest.getDefaultInstance(),
        new StreamObserver<>() {
          @Override
          public void onNext(Event e) {
            seen.add(e);
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {}
        }));
    TimeUnit.MILLISECONDS.sleep(500);
    Sandbox sandbox = sandboxes.createSandbox(CreateSandboxRequest.newBuilder().putLabels("app", "lifecycle").build());
    assertEquals(SandboxState.SANDBOX_RUNNING, sandbox.getState());
    Container c = run(sandbox.getId(), "sh", "-c", "echo out-line; echo err-line >&2; exit 3");
    assertEquals(3, waitFor(c.getId(), ""));
    assertEquals("out-line\n", logs(c.getId(), LogChunk.Stream.STDOUT));
    assertEquals("err-line\n", logs(c.getId(), LogChunk.Stream.STDERR));
    Container exited = containers.getContainer(ContainerRef.newBuilder().setId(c.getId()).build());
    assertEquals(ContainerState.CONTAINER_EXITED, exited.getState());
    assertEquals(3, exited.getExitStatus());
    assertEquals(1, sandboxes.listSandboxes(ListSandboxesRequest.newBuilder().putLabelSelector("app", "lifecycle")
        .build()).getSandboxesCount());
    sandboxes.deleteSandbox(SandboxRef.newBuilder().setId(sandbox.getId()).build());
    StatusRuntimeException gone = assertThrows(StatusRuntimeException.class,
        () -> containers.getContainer(ContainerRef.newBuilder().setId(c.getId()).build()));
    assertEquals(Status.Code.NOT_FOUND, gone.getStatus().getCode());
    assertTrue(!Files.exists(isolad.stateRoot.resolve("sandboxes").resolve(sandbox.getId())), "files removed");
    TimeUnit.MILLISECONDS.sleep(500);
    subscription.cancel(null);
    List<String> ours = seen.stream().filter(e -> e.getSandboxId().equals(sandbox.getId()))
        .map(e -> e.getType() + (e.getType() == Event.Type.CONTAINER_EXITED ? "=" + e.getExitStatus() : "")).toList();
    assertEquals(List.of("SANDBOX_CREATED", "CONTAINER_CREATED", "CONTAINER_STARTED", "CONTAINER_EXITED=3",
        "SANDBOX_STOPPED", "SANDBOX_DELETED"), ours);
  }

  @Test
  void execAttachAndStatsWhileTheMainProcessRuns() throws Exception {
    Sandbox sandbox = sandboxes.createSandbox(CreateSandboxRequest.getDefaultInstance());
    Container c = run(sandbox.getId(), "sh", "-c", "while :; do :; done");
    long cpu1 = containers.stats(ContainerRef.newBuilder().setId(c.getId()).build()).getCpuUsageUsec();
    TimeUnit.SECONDS.sleep(2);
    long cpu2 = containers.stats(ContainerRef.newBuilder().setId(c.getId()).build()).getCpuUsageUsec();
    assertTrue(cpu2 > cpu1, "CPU usage grows while the container spins: " + cpu1 + " -> " + cpu2);

    String execId = containers.exec(ExecRequest.newBuilder().setContainerId(c.getId())
        .setProcess(ProcessSpec.newBuilder().addAllArgs(List.of("sh", "-c", "cat; echo done")).setStdin(true))
        .build()).getExecId();
    ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    CompletableFuture<Integer> exit = new CompletableFuture<>();
    StreamObserver<AttachRequest> attach = ContainersGrpc.newStub(channel).attach(new StreamObserver<>() {
      @Override
      public void onNext(AttachResponse r) {
        synchronized (stdout) {
          stdout.writeBytes(r.getStdout().toByteArray());
        }
        if (r.getExited()) {
          exit.complete(r.getExitStatus());
        }
      }

      @Override
      public void onError(Throwable t) {
        exit.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    });
    attach.onNext(AttachRequest.newBuilder().setProcess(ProcessRef.newBuilder().setContainerId(c.getId())
        .setExecId(execId)).setReplay(true).build());
    attach.onNext(AttachRequest.newBuilder().setStdin(ByteString.copyFromUtf8("hello through attach\n")).build());
    attach.onNext(AttachRequest.newBuilder().setCloseStdin(true).build());
    assertEquals(0, exit.get(120, TimeUnit.SECONDS));
    attach.onCompleted();
    synchronized (stdout) {
      assertEquals("hello through attach\ndone\n", stdout.toString(StandardCharsets.UTF_8));
    }
    sandboxes.deleteSandbox(SandboxRef.newBuilder().setId(sandbox.getId()).build());
  }

  @Test
  void aContainersOwnSandboxTakesTheRequestedSize() {
    Container c = containers.createContainer(CreateContainerRequest.newBuilder().setImage(image)
        .setProcess(ProcessSpec.newBuilder().addAllArgs(List.of("sh", "-c",
            "grep -c ^processor /proc/cpuinfo; grep MemTotal /proc/meminfo")))
        .setNewSandbox(CreateSandboxRequest.newBuilder().setVcpus(2).setMemoryMib(192)).build());
    containers.startContainer(ContainerRef.newBuilder().setId(c.getId()).build());
    assertEquals(0, waitFor(c.getId(), ""));
    String[] out = logs(c.getId(), LogChunk.Stream.STDOUT).split("\n");
    assertEquals("2", out[0].strip(), "two vCPUs");
    long memKib = Long.parseLong(out[1].replaceAll("[^0-9]", ""));
    assertTrue(memKib > 100_000 && memKib < 192 * 1024, "about 192 MiB of guest memory: " + out[1]);
    Sandbox own = sandboxes.getSandbox(SandboxRef.newBuilder().setId(c.getSandboxId()).build());
    assertEquals(192, own.getMemoryMib());
    containers.deleteContainer(io.isola.proto.v1.DeleteContainerRequest.newBuilder().setId(c.getId()).build());
    assertCode(Status.Code.NOT_FOUND, () -> sandboxes.getSandbox(SandboxRef.newBuilder().setId(c.getSandboxId()).build()));
  }

  @Test
  void malformedRequestsAreRejectedCleanly() {
    assertCode(Status.Code.INVALID_ARGUMENT, () -> sandboxes.getSandbox(SandboxRef.newBuilder().setId("../etc").build()));
    assertCode(Status.Code.INVALID_ARGUMENT, () -> sandboxes.createSandbox(
        CreateSandboxRequest.newBuilder().setId("Bad Id!").build()));
    assertCode(Status.Code.INVALID_ARGUMENT, () -> sandboxes.createSandbox(
        CreateSandboxRequest.newBuilder().setMemoryMib(8).build()));
    assertCode(Status.Code.INVALID_ARGUMENT, () -> sandboxes.createSandbox(
        CreateSandboxRequest.newBuilder().setVcpus(1000).build()));
    assertCode(Status.Code.INVALID_ARGUMENT, () -> sandboxes.createSandbox(
        CreateSandboxRequest.newBuilder().setKernel("no-such-kernel").build()));
    ProcessSpec.Builder hugeEnv = ProcessSpec.newBuilder().addArgs("true");
    for (int i = 0; i < 5000; i++) {
      hugeEnv.addEnv("K" + i + "=" + "v".repeat(100));
    }
    assertCode(Status.Code.INVALID_ARGUMENT, () -> containers.createContainer(CreateContainerRequest.newBuilder()
        .setImage(image).setProcess(hugeEnv).build()));
    assertCode(Status.Code.NOT_FOUND, () -> containers.getContainer(ContainerRef.newBuilder().setId("nope").build()));
    assertEquals(0, sandboxes.listSandboxes(ListSandboxesRequest.getDefaultInstance()).getSandboxesList().stream()
        .filter(s -> s.getState() == SandboxState.SANDBOX_CREATING).count(), "no half-created sandbox left");
  }

  private static void assertCode(Status.Code code, org.junit.jupiter.api.function.Executable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(e.getStatus().getDescription() != null && !e.getStatus().getDescription().isBlank(), "a message");
  }

  /** A client running as uid 1000: tenant alice in CONFIG. */
  private static IsolaProcess.Result asAlice(String... args) throws Exception {
    List<String> argv = new ArrayList<>(List.of("setpriv", "--reuid=1000", "--regid=1000", "--clear-groups",
        IsolaProcess.PROJECT.resolve("bin/isola").toString()));
    argv.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(argv);
    builder.environment().put("HOME", "/tmp");
    builder.environment().put("ISOLA_SOCKET", isolad.socket.toString());
    Process p = builder.start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS));
    return new IsolaProcess.Result(p.exitValue(), out.getBytes(StandardCharsets.UTF_8), err.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void tenantsSeeOnlyTheirOwnAndQuotasHold() throws Exception {
    Sandbox mine = sandboxes.createSandbox(CreateSandboxRequest.getDefaultInstance());
    try {
      checkTenantIsolation(mine);
    } finally {
      sandboxes.deleteSandbox(SandboxRef.newBuilder().setId(mine.getId()).build());
    }
  }

  private void checkTenantIsolation(Sandbox mine) throws Exception {
    Container c = run(mine.getId(), "sh", "-c", "echo secret; sleep 600");
    String id = c.getId();
    var ps = asAlice("ps", "-a", "--format", "json");
    assertEquals(0, ps.exitCode(), ps.toString());
    assertTrue(!ps.stdout().contains(id), "alice does not see root's container: " + ps.stdout());
    for (String[] call : List.of(new String[] {"logs", id}, new String[] {"kill", id}, new String[] {"rm", "-f", id},
        new String[] {"exec", id, "--", "true"}, new String[] {"sandbox", "rm", mine.getId()})) {
      var result = asAlice(call);
      assertEquals(125, result.exitCode(), String.join(" ", call) + ": " + result);
      assertTrue(result.stderr().contains("NOT_FOUND"), String.join(" ", call) + ": " + result);
    }
    var ls = asAlice("sandbox", "ls", "--format", "json");
    assertTrue(!ls.stdout().contains(mine.getId()), ls.toString());
    // alice's quota is one sandbox of at most 4 vCPUs
    var tooBig = asAlice("sandbox", "create", "--cpus", "5");
    assertEquals(125, tooBig.exitCode(), tooBig.toString());
    assertTrue(tooBig.stderr().contains("RESOURCE_EXHAUSTED") && tooBig.stderr().contains("5"), tooBig.toString());
    var first = asAlice("sandbox", "create", "--memory", "128");
    assertEquals(0, first.exitCode(), first.toString());
    var second = asAlice("sandbox", "create", "--memory", "128");
    assertEquals(125, second.exitCode(), second.toString());
    assertTrue(second.stderr().contains("RESOURCE_EXHAUSTED"), second.toString());
    assertEquals(0, asAlice("sandbox", "rm", first.stdout().strip()).exitCode());
    // root (admin) still sees its container untouched
    assertEquals(ContainerState.CONTAINER_RUNNING,
        containers.getContainer(ContainerRef.newBuilder().setId(id).build()).getState());
  }

  @Test
  void sigkillOfIsoladLosesNothing() throws Exception {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      Sandbox s = sandboxes.createSandbox(CreateSandboxRequest.newBuilder().putLabels("restart", "yes").build());
      ids.add(s.getId());
    }
    Container exitsDuringOutage = run(ids.get(0), "sh", "-c", "sleep 4; echo bye; exit 5");
    run(ids.get(1), "sleep", "600");
    isolad.kill9();
    channel.shutdownNow();
    TimeUnit.SECONDS.sleep(8); // the first container exits while nobody supervises
    isolad.start();
    connect();
    List<Sandbox> listed = sandboxes.listSandboxes(ListSandboxesRequest.newBuilder()
        .putLabelSelector("restart", "yes").build()).getSandboxesList();
    assertEquals(3, listed.size(), isolad.log());
    listed.forEach(s -> assertEquals(SandboxState.SANDBOX_RUNNING, s.getState(), s.toString()));
    assertEquals(5, waitFor(exitsDuringOutage.getId(), ""), "the exit during the outage is reported");
    assertEquals("bye\n", logs(exitsDuringOutage.getId(), LogChunk.Stream.STDOUT));
    for (String sandboxId : ids) {
      Container c = run(sandboxId, "sh", "-c", "exit 9");
      assertEquals(9, waitFor(c.getId(), ""), "a new container works in re-adopted sandbox " + sandboxId);
    }
    for (String sandboxId : ids) {
      sandboxes.deleteSandbox(SandboxRef.newBuilder().setId(sandboxId).build());
    }
  }

  @Test
  void twentyConcurrentClientsLeaveNothingBehind() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(20);
    List<Future<String>> results = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      results.add(pool.submit(() -> {
        ManagedChannel own = ApiClients.unix(isolad.socket);
        try {
          SandboxesGrpc.SandboxesBlockingStub stub = SandboxesGrpc.newBlockingStub(own);
          Sandbox s = stub.createSandbox(CreateSandboxRequest.newBuilder().setMemoryMib(128)
              .putLabels("burst", "yes").build());
          stub.deleteSandbox(SandboxRef.newBuilder().setId(s.getId()).build());
          return s.getId();
        } finally {
          own.shutdownNow();
        }
      }));
    }
    for (Future<String> r : results) {
      r.get(600, TimeUnit.SECONDS);
    }
    pool.shutdown();
    assertEquals(0, sandboxes.listSandboxes(ListSandboxesRequest.newBuilder().putLabelSelector("burst", "yes")
        .build()).getSandboxesCount());
    assertEquals(List.of(), IsolaProcess.leftovers(isolad.runRoot), "no runtime directory or socket left");
    assertEquals(List.of(), IsolaProcess.leftovers(isolad.stateRoot), "no state directory left");
  }
}
