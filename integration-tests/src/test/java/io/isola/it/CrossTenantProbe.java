package io.isola.it;

import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.isola.proto.v1.AttachRequest;
import io.isola.proto.v1.AttachResponse;
import io.isola.proto.v1.ContainerRef;
import io.isola.proto.v1.ContainersGrpc;
import io.isola.proto.v1.CreateContainerRequest;
import io.isola.proto.v1.CreateSandboxRequest;
import io.isola.proto.v1.DeleteContainerRequest;
import io.isola.proto.v1.Event;
import io.isola.proto.v1.EventsGrpc;
import io.isola.proto.v1.ExecRequest;
import io.isola.proto.v1.ListContainersRequest;
import io.isola.proto.v1.ListSandboxesRequest;
import io.isola.proto.v1.LogsRequest;
import io.isola.proto.v1.ProcessRef;
import io.isola.proto.v1.ProcessSpec;
import io.isola.proto.v1.ResizeTtyRequest;
import io.isola.proto.v1.SandboxRef;
import io.isola.proto.v1.SandboxesGrpc;
import io.isola.proto.v1.SignalRequest;
import io.isola.proto.v1.StopSandboxRequest;
import io.isola.proto.v1.SubscribeRequest;
import io.isola.proto.v1.UpdateSandboxRequest;
import io.isola.vmm.api.ApiClients;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * Run as another tenant (IsolationIT starts it under uid 1000): tries every API method on a
 * sandbox and container of the admin tenant, by their real ids and by path-like ids, and
 * watches the event stream while the admin makes events (it says "ready-for-events" and waits
 * for a line on stdin). Prints one {@code name=verdict} line per attempt.
 */
public final class CrossTenantProbe {
  public static void main(String[] args) throws Exception {
    ManagedChannel channel = ApiClients.unix(Path.of(args[0]));
    String sandbox = args[1];
    String container = args[2];
    var sandboxes = SandboxesGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    var containers = ContainersGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS);
    List<Event> seen = new CopyOnWriteArrayList<>();
    Context.CancellableContext events = Context.current().withCancellation();
    events.run(() -> EventsGrpc.newStub(channel).subscribe(SubscribeRequest.getDefaultInstance(), new StreamObserver<>() {
      public void onNext(Event e) {
        seen.add(e);
      }

      public void onError(Throwable t) {}

      public void onCompleted() {}
    }));
    ProcessRef process = ProcessRef.newBuilder().setContainerId(container).build();
    ContainerRef ref = ContainerRef.newBuilder().setId(container).build();
    SandboxRef sref = SandboxRef.newBuilder().setId(sandbox).build();

    attempt("get-sandbox", () -> sandboxes.getSandbox(sref));
    attempt("stop-sandbox", () -> sandboxes.stopSandbox(StopSandboxRequest.newBuilder().setId(sandbox).build()));
    attempt("update-sandbox", () -> sandboxes.updateSandbox(UpdateSandboxRequest.newBuilder().setId(sandbox)
        .setUpdateLabels(true).putLabels("owned", "yes").build()));
    attempt("delete-sandbox", () -> sandboxes.deleteSandbox(sref));
    attempt("create-in-sandbox", () -> containers.createContainer(CreateContainerRequest.newBuilder()
        .setSandboxId(sandbox).setImage("/nonexistent").setProcess(ProcessSpec.newBuilder().addArgs("true")).build()));
    attempt("get-container", () -> containers.getContainer(ref));
    attempt("start-container", () -> containers.startContainer(ref));
    attempt("exec", () -> containers.exec(ExecRequest.newBuilder().setContainerId(container)
        .setProcess(ProcessSpec.newBuilder().addArgs("true")).build()));
    attempt("signal", () -> containers.signal(SignalRequest.newBuilder().setProcess(process).setSignal(9).build()));
    attempt("wait", () -> containers.wait(process));
    attempt("close-stdin", () -> containers.closeStdin(process));
    attempt("resize-tty", () -> containers.resizeTty(ResizeTtyRequest.newBuilder().setProcess(process)
        .setWidth(80).setHeight(24).build()));
    attempt("logs", () -> {
      containers.logs(LogsRequest.newBuilder().setContainerId(container).build()).forEachRemaining(c -> { });
      return "";
    });
    attempt("stats", () -> containers.stats(ref));
    attempt("pause", () -> containers.pauseContainer(ref));
    attempt("resume", () -> containers.resumeContainer(ref));
    attempt("delete-container", () -> containers.deleteContainer(DeleteContainerRequest.newBuilder().setId(container)
        .setForce(true).build()));
    attempt("attach", () -> attach(channel, process));
    attempt("path-like-container", () -> containers.getContainer(ContainerRef.newBuilder().setId("../" + container).build()));
    attempt("path-like-sandbox", () -> sandboxes.getSandbox(SandboxRef.newBuilder().setId("/etc/passwd").build()));
    attempt("path-like-new-sandbox", () -> sandboxes.createSandbox(CreateSandboxRequest.newBuilder().setId("a/../b").build()));
    attempt("path-like-logs", () -> {
      containers.logs(LogsRequest.newBuilder().setContainerId("../../" + container).build()).forEachRemaining(c -> { });
      return "";
    });
    System.out.println("list-sandboxes=" + sandboxes.listSandboxes(ListSandboxesRequest.getDefaultInstance())
        .getSandboxesList().stream().filter(s -> s.getId().equals(sandbox)).count());
    System.out.println("list-containers=" + containers.listContainers(ListContainersRequest.getDefaultInstance())
        .getContainersList().stream().filter(c -> c.getId().equals(container)).count());
    // The admin now makes events in its sandbox; none may reach this tenant's subscription.
    System.out.println("ready-for-events");
    System.out.flush();
    new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine();
    TimeUnit.SECONDS.sleep(1);
    System.out.println("events-seen=" + seen.stream()
        .filter(e -> e.getSandboxId().equals(sandbox) || e.getContainerId().equals(container)).count());
    events.cancel(null);
    channel.shutdownNow();
  }

  private static String attach(ManagedChannel channel, ProcessRef process) throws Exception {
    CompletableFuture<String> done = new CompletableFuture<>();
    StreamObserver<AttachRequest> requests = ContainersGrpc.newStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
        .attach(new StreamObserver<AttachResponse>() {
          public void onNext(AttachResponse r) {
            done.complete("got output");
          }

          public void onError(Throwable t) {
            done.completeExceptionally(t);
          }

          public void onCompleted() {
            done.complete("completed");
          }
        });
    requests.onNext(AttachRequest.newBuilder().setProcess(process).setReplay(true).build());
    try {
      return done.get(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      throw (Exception) e.getCause();
    }
  }

  @FunctionalInterface
  interface Call {
    Object run() throws Exception;
  }

  private static void attempt(String name, Call call) {
    String verdict;
    try {
      call.run();
      verdict = "SUCCEEDED";
    } catch (StatusRuntimeException e) {
      verdict = e.getStatus().getCode().name();
    } catch (Exception e) {
      verdict = e instanceof io.grpc.StatusException s ? s.getStatus().getCode().name() : "ERROR " + e;
    }
    System.out.println(name + "=" + verdict);
  }
}
