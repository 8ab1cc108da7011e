package io.isola.shim;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.Empty;
import com.google.protobuf.Message;
import com.google.protobuf.Parser;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.isola.proto.containerd.cgroups.v1.CPUStat;
import io.isola.proto.containerd.cgroups.v1.CPUUsage;
import io.isola.proto.containerd.cgroups.v1.MemoryEntry;
import io.isola.proto.containerd.cgroups.v1.MemoryStat;
import io.isola.proto.containerd.cgroups.v1.Metrics;
import io.isola.proto.containerd.cgroups.v1.PidsStat;
import io.isola.proto.containerd.events.TaskCreate;
import io.isola.proto.containerd.events.TaskDelete;
import io.isola.proto.containerd.events.TaskExecAdded;
import io.isola.proto.containerd.events.TaskExecStarted;
import io.isola.proto.containerd.events.TaskExit;
import io.isola.proto.containerd.events.TaskIO;
import io.isola.proto.containerd.events.TaskOOM;
import io.isola.proto.containerd.events.TaskStart;
import io.isola.proto.containerd.task.v2.CheckpointTaskRequest;
import io.isola.proto.containerd.task.v2.CloseIORequest;
import io.isola.proto.containerd.task.v2.ConnectRequest;
import io.isola.proto.containerd.task.v2.ConnectResponse;
import io.isola.proto.containerd.task.v2.CreateTaskRequest;
import io.isola.proto.containerd.task.v2.CreateTaskResponse;
import io.isola.proto.containerd.task.v2.DeleteRequest;
import io.isola.proto.containerd.task.v2.DeleteResponse;
import io.isola.proto.containerd.task.v2.ExecProcessRequest;
import io.isola.proto.containerd.task.v2.KillRequest;
import io.isola.proto.containerd.task.v2.PauseRequest;
import io.isola.proto.containerd.task.v2.PidsRequest;
import io.isola.proto.containerd.task.v2.PidsResponse;
import io.isola.proto.containerd.task.v2.ResizePtyRequest;
import io.isola.proto.containerd.task.v2.ResumeRequest;
import io.isola.proto.containerd.task.v2.ShutdownRequest;
import io.isola.proto.containerd.task.v2.StartRequest;
import io.isola.proto.containerd.task.v2.StartResponse;
import io.isola.proto.containerd.task.v2.StateRequest;
import io.isola.proto.containerd.task.v2.StateResponse;
import io.isola.proto.containerd.task.v2.StatsRequest;
import io.isola.proto.containerd.task.v2.StatsResponse;
import io.isola.proto.containerd.task.v2.UpdateTaskRequest;
import io.isola.proto.containerd.task.v2.WaitRequest;
import io.isola.proto.containerd.task.v2.WaitResponse;
import io.isola.proto.containerd.types.task.ProcessInfo;
import io.isola.proto.v1.AttachRequest;
import io.isola.proto.v1.AttachResponse;
import io.isola.proto.v1.Container;
import io.isola.proto.v1.ContainerRef;
import io.isola.proto.v1.ContainerState;
import io.isola.proto.v1.ContainerStats;
import io.isola.proto.v1.ContainersGrpc;
import io.isola.proto.v1.CreateContainerRequest;
import io.isola.proto.v1.CreateSandboxRequest;
import io.isola.proto.v1.DeleteContainerRequest;
import io.isola.proto.v1.ExecRequest;
import io.isola.proto.v1.ProcessRef;
import io.isola.proto.v1.ProcessSpec;
import io.isola.proto.v1.ResizeTtyRequest;
import io.isola.proto.v1.SandboxRef;
import io.isola.proto.v1.SandboxesGrpc;
import io.isola.proto.v1.SignalRequest;
import io.isola.ttrpc.StatusCode;
import io.isola.ttrpc.TtrpcException;
import io.isola.ttrpc.TtrpcServer;
import io.isola.vmm.api.ApiClients;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * containerd.task.v2.Task, translated to isolad's gRPC API. The shim owns no VM: isolad creates,
 * runs and removes sandboxes and containers; the shim mounts the rootfs containerd prepared,
 * carries stdio between containerd's FIFOs and isolad's Attach stream, and turns exits into
 * containerd events.
 *
 * <p>isolad does not expose guest pids: every pid the shim reports is the shim's own pid (a live
 * host process, so nothing that checks a pid finds it dead).
 */
final class TaskService {
  private static final Logger LOG = Logger.getLogger(TaskService.class.getName());
  static final String SERVICE = "containerd.task.v2.Task";
  static final String SANDBOX_ID_ANNOTATION = "io.kubernetes.cri.sandbox-id";
  static final String GROUP_ANNOTATION = "io.containerd.runc.v2.group";

  enum State { CREATED, RUNNING, STOPPED }

  /** Budget of a call to isolad, including waiting for isolad to come back from a restart. */
  private static final long CALL_BUDGET_SECONDS = 60;
  /** Budget of a call that may boot or stop a VM (isolad's own budget for those is 5 min). */
  private static final long BOOT_BUDGET_SECONDS = 300;

  /** A containerd task: one isolad container. */
  final class Task {
    final String id;
    final Path bundle;
    final String isolaId;
    final String sandboxId;
    final String socket;
    final boolean rootfsMounted;
    final Proc init;
    final Map<String, Proc> execs = new ConcurrentHashMap<>();
    final BundleState bundleState;

    Task(String id, Path bundle, String isolaId, String sandboxId, String socket, boolean rootfsMounted,
        CreateTaskRequest r, Stdio io, BundleState bundleState) {
      this.id = id;
      this.bundle = bundle;
      this.isolaId = isolaId;
      this.sandboxId = sandboxId;
      this.socket = socket;
      this.rootfsMounted = rootfsMounted;
      this.bundleState = bundleState;
      this.init = new Proc(this, "", r.getTerminal(), r.getStdin(), r.getStdout(), r.getStderr(), null, io);
    }
  }

  /** The init process or an exec. */
  final class Proc {
    final Task task;
    final String execId;
    final boolean terminal;
    final String stdin;
    final String stdout;
    final String stderr;
    final ProcessSpec spec;
    final Stdio io;
    final CompletableFuture<Void> exit = new CompletableFuture<>();
    final CompletableFuture<Void> attachDone = new CompletableFuture<>();
    volatile State state = State.CREATED;
    /** Frozen by Pause (init only); reported as PAUSED while running. */
    volatile boolean paused;
    volatile int exitStatus;
    volatile Instant exitedAt;
    volatile StreamObserver<AttachRequest> attach;
    /** Bytes of stdout and stderr written to containerd so far (only attach callbacks touch it). */
    final long[] delivered = new long[2];

    Proc(Task task, String execId, boolean terminal, String stdin, String stdout, String stderr, ProcessSpec spec,
        Stdio io) {
      this.task = task;
      this.execId = execId;
      this.terminal = terminal;
      this.stdin = stdin;
      this.stdout = stdout;
      this.stderr = stderr;
      this.spec = spec;
      this.io = io;
    }

    boolean isInit() {
      return execId.isEmpty();
    }

    ProcessRef ref() {
      return ProcessRef.newBuilder().setContainerId(task.isolaId)
          .setExecId(execId.isEmpty() ? "" : Ids.isolaId(execId)).build();
    }

    /** A process removed before it started: waiters see it killed (137), nothing is published. */
    void discardIfNeverStarted() {
      synchronized (this) {
        if (state != State.CREATED) {
          return;
        }
        exitStatus = 137;
        exitedAt = Instant.now();
        state = State.STOPPED;
      }
      exit.complete(null);
    }

    /** Records the exit once and tells containerd. */
    void exited(int status, boolean oom) {
      synchronized (this) {
        if (state == State.STOPPED) {
          return;
        }
        exitStatus = status;
        exitedAt = Instant.now();
        state = State.STOPPED;
      }
      io.close();
      StreamObserver<AttachRequest> a = attach;
      if (a != null) {
        synchronized (a) {
          try {
            a.onCompleted();
          } catch (RuntimeException ignored) {
            // already over
          }
        }
      }
      if (oom) {
        events.publish("/tasks/oom", TaskOOM.newBuilder().setContainerId(task.id).build());
      }
      events.publish("/tasks/exit", TaskExit.newBuilder().setContainerId(task.id)
          .setId(isInit() ? task.id : execId).setPid(pid).setExitStatus(status)
          .setExitedAt(Timestamps.of(exitedAt)).build());
      if (isInit()) {
        task.bundleState.withExit(status).write(task.bundle);
      }
      exit.complete(null);
    }
  }

  private final String namespace;
  private final String defaultSocket;
  private final EventPublisher events;
  private final Runnable shutdown;
  private final int pid = (int) ProcessHandle.current().pid();
  private final Map<String, Task> tasks = new ConcurrentHashMap<>();
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();
  /** Sandboxes this shim created explicitly (a pod whose group names no container here). */
  private final Map<String, String> explicitSandboxes = new ConcurrentHashMap<>();

  TaskService(String namespace, String defaultSocket, EventPublisher events, Runnable shutdown) {
    this.namespace = namespace;
    this.defaultSocket = defaultSocket;
    this.events = events;
    this.shutdown = shutdown;
  }

  TtrpcServer.Builder register(TtrpcServer.Builder b) {
    return b
        .method(SERVICE, "Create", handler(CreateTaskRequest.parser(), this::create))
        .method(SERVICE, "Start", handler(StartRequest.parser(), this::start))
        .method(SERVICE, "State", handler(StateRequest.parser(), this::state))
        .method(SERVICE, "Wait", handler(WaitRequest.parser(), this::waitFor))
        .method(SERVICE, "Kill", handler(KillRequest.parser(), this::kill))
        .method(SERVICE, "Delete", handler(DeleteRequest.parser(), this::delete))
        .method(SERVICE, "Pids", handler(PidsRequest.parser(), this::pids))
        .method(SERVICE, "Exec", handler(ExecProcessRequest.parser(), this::exec))
        .method(SERVICE, "ResizePty", handler(ResizePtyRequest.parser(), this::resizePty))
        .method(SERVICE, "CloseIO", handler(CloseIORequest.parser(), this::closeIO))
        .method(SERVICE, "Update", handler(UpdateTaskRequest.parser(), this::update))
        .method(SERVICE, "Stats", handler(StatsRequest.parser(), this::stats))
        .method(SERVICE, "Connect", handler(ConnectRequest.parser(), this::connect))
        .method(SERVICE, "Shutdown", handler(ShutdownRequest.parser(), this::shutdown))
        .method(SERVICE, "Pause", handler(PauseRequest.parser(), r -> setPaused(r.getId(), true)))
        .method(SERVICE, "Resume", handler(ResumeRequest.parser(), r -> setPaused(r.getId(), false)))
        .method(SERVICE, "Checkpoint", handler(CheckpointTaskRequest.parser(), r -> {
          throw new TtrpcException(StatusCode.UNIMPLEMENTED, "isola does not support checkpoints");
        }));
  }

  @FunctionalInterface
  interface Handler<Q, R extends Message> {
    R handle(Q request) throws TtrpcException;
  }

  private <Q, R extends Message> TtrpcServer.Method handler(Parser<Q> parser, Handler<Q, R> fn) {
    return payload -> {
      Q request = parser.parseFrom(payload);
      try {
        return fn.handle(request).toByteString();
      } catch (StatusRuntimeException e) {
        throw fromGrpc(e);
      }
    };
  }

  static TtrpcException fromGrpc(StatusRuntimeException e) {
    Status s = e.getStatus();
    String what = s.getDescription() == null ? s.getCode().name() : s.getDescription();
    if (s.getCode() == Status.Code.UNAVAILABLE) {
      what = "isolad is unreachable: " + what;
    }
    return new TtrpcException(StatusCode.of(s.getCode().value()), what);
  }

  boolean isEmpty() {
    return tasks.isEmpty();
  }

  // ------------------------------------------------------------------ isolad

  private ManagedChannel channel(String socket) {
    return channels.computeIfAbsent(socket, s -> ApiClients.unix(Path.of(s)));
  }

  /**
   * Retires a channel that failed with UNAVAILABLE (isolad went away): new calls get a fresh
   * channel, which connects to the new isolad at once. The old one is shut down gracefully: a
   * call still in flight on it (an exec's Start racing the restart) must finish, not be cancelled
   * (seen: a forced shutdown failed that Start, and containerd then failed the exec).
   */
  private void reconnect(String socket, ManagedChannel broken) {
    if (channels.remove(socket, broken)) {
      broken.shutdown();
    }
  }

  /**
   * A stub for one call. Calls wait for isolad to be reachable rather than failing at once: isolad
   * may be restarting, and containerd treats a failed Start or Exec as final. The deadline bounds
   * that wait (and the call itself) so no containerd request hangs on an absent isolad.
   */
  private ContainersGrpc.ContainersBlockingStub containers(String socket, long budgetSeconds) {
    return ContainersGrpc.newBlockingStub(channel(socket)).withWaitForReady()
        .withDeadlineAfter(budgetSeconds, TimeUnit.SECONDS);
  }

  private ContainersGrpc.ContainersBlockingStub containers(String socket) {
    return containers(socket, CALL_BUDGET_SECONDS);
  }

  private SandboxesGrpc.SandboxesBlockingStub sandboxes(String socket, long budgetSeconds) {
    return SandboxesGrpc.newBlockingStub(channel(socket)).withWaitForReady()
        .withDeadlineAfter(budgetSeconds, TimeUnit.SECONDS);
  }

  // ------------------------------------------------------------------ lookups

  private Task task(String id) throws TtrpcException {
    Task t = tasks.get(id);
    if (t == null) {
      throw new TtrpcException(StatusCode.NOT_FOUND, "task " + id + " not found");
    }
    return t;
  }

  private Proc proc(String id, String execId) throws TtrpcException {
    Task t = task(id);
    if (execId.isEmpty()) {
      return t.init;
    }
    Proc p = t.execs.get(execId);
    if (p == null) {
      throw new TtrpcException(StatusCode.NOT_FOUND, "process " + execId + " of task " + id + " not found");
    }
    return p;
  }

  // ------------------------------------------------------------------ Task methods

  private CreateTaskResponse create(CreateTaskRequest r) throws TtrpcException {
    if (!r.getCheckpoint().isEmpty()) {
      throw new TtrpcException(StatusCode.UNIMPLEMENTED, "isola does not support restoring checkpoints");
    }
    if (tasks.containsKey(r.getId())) {
      throw new TtrpcException(StatusCode.ALREADY_EXISTS, "task " + r.getId() + " already exists");
    }
    Path bundle = Path.of(r.getBundle());
    JsonNode config;
    String socket;
    CreateSandboxRequest sandboxSpec;
    java.util.List<String> enabledAnnotations;
    try {
      config = OciProcess.readConfig(bundle);
      String configPath = ShimConfig.configPath(r.hasOptions() ? r.getOptions() : null);
      ShimConfig shimConfig = ShimConfig.load(configPath);
      socket = configPath.isEmpty() ? defaultSocket : shimConfig.isoladSocket();
      sandboxSpec = shimConfig.sandbox();
      enabledAnnotations = shimConfig.enabledAnnotations();
    } catch (IOException e) {
      throw new TtrpcException(StatusCode.INVALID_ARGUMENT, "cannot read the bundle's config: " + e.getMessage());
    }
    Map<String, String> annotations = OciProcess.annotations(config);
    try {
      sandboxSpec = SandboxAnnotations.apply(sandboxSpec, annotations, enabledAnnotations).toBuilder()
          .setNetwork(OciPlumbing.network(config)).build();
    } catch (SandboxAnnotations.RefusedException e) {
      throw new TtrpcException(StatusCode.INVALID_ARGUMENT, e.getMessage());
    }
    String group = annotations.getOrDefault(SANDBOX_ID_ANNOTATION, annotations.get(GROUP_ANNOTATION));
    String isolaId = Ids.isolaId(namespace, r.getId());
    String sandboxId = "";
    boolean explicit = false;
    if (group != null && !group.isEmpty() && !group.equals(r.getId())) {
      sandboxId = Ids.isolaId(namespace, group);
      explicit = ensureSandbox(socket, sandboxId, group, sandboxSpec);
    }
    String rootPath = config.path("root").path("path").asText("rootfs");
    Path rootfs = bundle.resolve(rootPath).normalize();
    boolean mounted = false;
    Stdio io = null;
    try {
      if (r.getRootfsCount() > 0) {
        Mounts.mountAll(r.getRootfsList(), rootfs);
        mounted = true;
      }
      io = Stdio.open(r.getStdin(), r.getStdout(), r.getTerminal() ? "" : r.getStderr(), namespace, r.getId());
      ProcessSpec spec = OciProcess.toProcessSpec(config.path("process"), !r.getStdin().isEmpty());
      if (r.getTerminal()) {
        spec = spec.toBuilder().setTty(true).build();
      }
      CreateContainerRequest.Builder create = CreateContainerRequest.newBuilder()
          .setId(isolaId)
          .setSandboxId(sandboxId)
          .setImage(rootfs.toString())
          .setProcess(spec)
          .addAllMounts(OciPlumbing.mounts(config))
          .setShmSizeBytes(OciPlumbing.shmSize(config))
          .setResources(OciPlumbing.resources(config))
          .putLabels("io.containerd/namespace", namespace)
          .putLabels("io.containerd/id", r.getId());
      if (sandboxId.isEmpty()) {
        create.setNewSandbox(sandboxSpec); // a sandbox of its own, sized by the runtime options
      }
      containers(socket, BOOT_BUDGET_SECONDS).createContainer(create.build());
    } catch (IOException | StatusRuntimeException e) {
      if (io != null) {
        io.close();
      }
      if (mounted) {
        Mounts.unmountAll(rootfs);
      }
      if (e instanceof StatusRuntimeException s) {
        throw fromGrpc(s);
      }
      throw new TtrpcException(StatusCode.INTERNAL, "cannot create task " + r.getId() + ": " + e.getMessage());
    }
    BundleState state = new BundleState(socket, isolaId, sandboxId, explicit, pid, 137, false);
    state.write(bundle);
    Task t = new Task(r.getId(), bundle, isolaId, sandboxId, socket, mounted, r, io, state);
    tasks.put(r.getId(), t);
    events.publish("/tasks/create", TaskCreate.newBuilder()
        .setContainerId(r.getId())
        .setBundle(r.getBundle())
        .addAllRootfs(r.getRootfsList())
        .setIo(TaskIO.newBuilder().setStdin(r.getStdin()).setStdout(r.getStdout()).setStderr(r.getStderr())
            .setTerminal(r.getTerminal()))
        .setCheckpoint(r.getCheckpoint())
        .setPid(pid)
        .build());
    return CreateTaskResponse.newBuilder().setPid(pid).build();
  }

  /** Makes sure the pod's sandbox exists; true when this shim created it. */
  private synchronized boolean ensureSandbox(String socket, String sandboxId, String group,
      CreateSandboxRequest spec) throws TtrpcException {
    try {
      sandboxes(socket, CALL_BUDGET_SECONDS).getSandbox(SandboxRef.newBuilder().setId(sandboxId).build());
      return explicitSandboxes.containsKey(sandboxId);
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.NOT_FOUND) {
        throw fromGrpc(e);
      }
    }
    try {
      sandboxes(socket, BOOT_BUDGET_SECONDS).createSandbox(spec.toBuilder().setId(sandboxId)
          .putLabels("io.containerd/namespace", namespace).putLabels("io.containerd/group", group).build());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.ALREADY_EXISTS) {
        throw fromGrpc(e);
      }
      return false;
    }
    explicitSandboxes.put(sandboxId, socket);
    return true;
  }

  private StartResponse start(StartRequest r) throws TtrpcException {
    Proc p = proc(r.getId(), r.getExecId());
    synchronized (p) {
      if (p.state != State.CREATED) {
        throw new TtrpcException(StatusCode.FAILED_PRECONDITION,
            "process " + (p.isInit() ? r.getId() : r.getExecId()) + " was already started");
      }
      Task t = p.task;
      if (p.isInit()) {
        containers(t.socket, BOOT_BUDGET_SECONDS).startContainer(ContainerRef.newBuilder().setId(t.isolaId).build());
      } else {
        if (t.init.state != State.RUNNING) {
          throw new TtrpcException(StatusCode.FAILED_PRECONDITION, "task " + t.id + " is not running");
        }
        try {
          containers(t.socket).exec(ExecRequest.newBuilder().setContainerId(t.isolaId)
              .setExecId(Ids.isolaId(p.execId)).setProcess(p.spec).build());
        } catch (StatusRuntimeException e) {
          // containerd's client waits for the exec's FIFOs to close after a failed Start
          p.io.close();
          throw e;
        }
      }
      p.state = State.RUNNING;
      // Published before the exit watcher exists: TaskStart always precedes TaskExit.
      if (p.isInit()) {
        events.publish("/tasks/start", TaskStart.newBuilder().setContainerId(t.id).setPid(pid).build());
      } else {
        events.publish("/tasks/exec-started", TaskExecStarted.newBuilder().setContainerId(t.id)
            .setExecId(p.execId).setPid(pid).build());
      }
      startIo(p);
    }
    return StartResponse.newBuilder().setPid(pid).build();
  }

  /** Attach (with replay: nothing written before the attach is lost), stdin pump, exit watcher. */
  private void startIo(Proc p) {
    attach(p);
    if (p.io.hasStdin()) {
      daemon("stdin-" + p.task.id + "/" + p.execId, () -> pumpStdin(p));
    }
    daemon("wait-" + p.task.id + "/" + p.execId, () -> watchExit(p));
  }

  /**
   * Opens an Attach stream with replay. If isolad goes away (restart), the stream is opened
   * again once it answers: the replay then starts from the process's log, and what this shim
   * already wrote to containerd (counted per stream) is skipped, so nothing is repeated.
   */
  private void attach(Proc p) {
    long[] seen = new long[2]; // bytes of stdout, stderr received on this stream
    ManagedChannel channel = channel(p.task.socket);
    StreamObserver<AttachRequest> requests = ContainersGrpc.newStub(channel).attach(
        new StreamObserver<AttachResponse>() {
          @Override
          public void onNext(AttachResponse response) {
            if (!response.getStdout().isEmpty()) {
              deliver(response.getStdout(), 0, p.io::writeOut);
            }
            if (!response.getStderr().isEmpty()) {
              deliver(response.getStderr(), 1, p.io::writeErr);
            }
          }

          private void deliver(ByteString data, int stream, java.util.function.Consumer<ByteString> sink) {
            long start = seen[stream];
            seen[stream] += data.size();
            long already = p.delivered[stream] - start;
            if (already >= data.size()) {
              return;
            }
            sink.accept(already > 0 ? data.substring((int) already) : data);
            p.delivered[stream] = seen[stream];
          }

          @Override
          public void onError(Throwable t) {
            Status.Code code = Status.fromThrowable(t).getCode();
            if (p.state != State.STOPPED && (code == Status.Code.UNAVAILABLE || code == Status.Code.INTERNAL)) {
              LOG.info("attach of " + p.task.id + "/" + p.execId + " broke (" + code + "); attaching again");
              reconnect(p.task.socket, channel);
              daemon("reattach", () -> {
                sleep(1000);
                if (p.state != State.STOPPED) {
                  attach(p);
                } else {
                  p.attachDone.complete(null);
                }
              });
              return;
            }
            LOG.fine("attach of " + p.task.id + "/" + p.execId + " ended: " + t.getMessage());
            p.attachDone.complete(null);
          }

          @Override
          public void onCompleted() {
            p.attachDone.complete(null);
          }
        });
    synchronized (requests) {
      requests.onNext(AttachRequest.newBuilder().setProcess(p.ref()).setReplay(true).build());
    }
    p.attach = requests;
  }

  private static void pumpStdin(Proc p) {
    try (FileChannel in = p.io.openStdin()) {
      ByteBuffer buffer = ByteBuffer.allocate(32 * 1024);
      while (in.read(buffer) >= 0) {
        buffer.flip();
        if (buffer.hasRemaining()) {
          ByteString data = ByteString.copyFrom(buffer);
          StreamObserver<AttachRequest> requests = p.attach;
          synchronized (requests) {
            requests.onNext(AttachRequest.newBuilder().setStdin(data).build());
          }
        }
        buffer.clear();
      }
    } catch (IOException | RuntimeException e) {
      LOG.fine("stdin of " + p.task.id + " ended: " + e.getMessage());
    }
    StreamObserver<AttachRequest> requests = p.attach;
    if (p.state != State.STOPPED) {
      synchronized (requests) {
        try {
          requests.onNext(AttachRequest.newBuilder().setCloseStdin(true).build());
        } catch (RuntimeException ignored) {
          // the stream is over
        }
      }
    }
  }

  private void watchExit(Proc p) {
    io.isola.proto.v1.WaitResponse status = null;
    while (status == null && p.state != State.STOPPED) {
      ManagedChannel channel = channel(p.task.socket);
      try {
        status = ContainersGrpc.newBlockingStub(channel).wait(p.ref());
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() == Status.Code.UNAVAILABLE) {
          reconnect(p.task.socket, channel);
        }
        status = exitAfterFailure(p, e);
        if (status == null) {
          sleep(1000);
        }
      }
    }
    if (status == null) {
      return; // recorded elsewhere (Kill of a created process, Delete)
    }
    try {
      // isolad sends the exit on Attach only after the output drained (bounded there by 10 s)
      p.attachDone.get(12, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.fine("output of " + p.task.id + " did not drain: " + e);
    }
    p.exited(status.getExitStatus(), status.getOomKilled());
  }

  /** After a failed isolad Wait: the exit if isolad knows the process is gone, else null (retry). */
  private io.isola.proto.v1.WaitResponse exitAfterFailure(Proc p, StatusRuntimeException e) {
    Status.Code code = e.getStatus().getCode();
    if (code == Status.Code.NOT_FOUND) {
      return io.isola.proto.v1.WaitResponse.newBuilder().setExitStatus(137).build();
    }
    try {
      Container c = containers(p.task.socket, 5)
          .getContainer(ContainerRef.newBuilder().setId(p.task.isolaId).build());
      if (c.getState() == ContainerState.CONTAINER_EXITED) {
        return io.isola.proto.v1.WaitResponse.newBuilder()
            .setExitStatus(p.isInit() ? c.getExitStatus() : 137).setOomKilled(p.isInit() && c.getOomKilled()).build();
      }
    } catch (StatusRuntimeException again) {
      if (again.getStatus().getCode() == Status.Code.NOT_FOUND) {
        return io.isola.proto.v1.WaitResponse.newBuilder().setExitStatus(137).build();
      }
    }
    LOG.log(Level.FINE, "waiting for " + p.task.id + " failed; retrying", e);
    return null;
  }

  private StateResponse state(StateRequest r) throws TtrpcException {
    Proc p = proc(r.getId(), r.getExecId());
    io.isola.proto.containerd.types.task.Status status = switch (p.state) {
      case CREATED -> io.isola.proto.containerd.types.task.Status.CREATED;
      case RUNNING -> p.task.init.paused ? io.isola.proto.containerd.types.task.Status.PAUSED
          : io.isola.proto.containerd.types.task.Status.RUNNING;
      case STOPPED -> io.isola.proto.containerd.types.task.Status.STOPPED;
    };
    return StateResponse.newBuilder()
        .setId(p.isInit() ? r.getId() : r.getExecId())
        .setBundle(p.task.bundle.toString())
        .setPid(pid)
        .setStatus(status)
        .setStdin(p.stdin)
        .setStdout(p.stdout)
        .setStderr(p.stderr)
        .setTerminal(p.terminal)
        .setExitStatus(p.exitStatus)
        .setExitedAt(Timestamps.of(p.exitedAt))
        .setExecId(r.getExecId())
        .build();
  }

  private WaitResponse waitFor(WaitRequest r) throws TtrpcException {
    Proc p = proc(r.getId(), r.getExecId());
    try {
      p.exit.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TtrpcException(StatusCode.CANCELLED, "interrupted");
    } catch (Exception e) {
      throw new TtrpcException(StatusCode.INTERNAL, String.valueOf(e.getCause()));
    }
    return WaitResponse.newBuilder().setExitStatus(p.exitStatus).setExitedAt(Timestamps.of(p.exitedAt)).build();
  }

  private Empty kill(KillRequest r) throws TtrpcException {
    Proc p = proc(r.getId(), r.getExecId());
    int signal = r.getSignal() == 0 ? 15 : r.getSignal();
    if (p.state == State.STOPPED) {
      throw new TtrpcException(StatusCode.NOT_FOUND, "process already finished");
    }
    if (p.state == State.CREATED) {
      // never started: nothing runs in the guest; it "dies" of the signal here
      if (p.isInit()) {
        try {
          containers(p.task.socket).deleteContainer(DeleteContainerRequest.newBuilder()
              .setId(p.task.isolaId).setForce(true).build());
        } catch (StatusRuntimeException e) {
          if (e.getStatus().getCode() != Status.Code.NOT_FOUND) {
            throw fromGrpc(e);
          }
        }
      }
      p.exited(128 + signal, false);
      return Empty.getDefaultInstance();
    }
    // "all" means every process of the container: signalling init takes its pid namespace down
    containers(p.task.socket).signal(SignalRequest.newBuilder().setProcess(p.ref()).setSignal(signal).build());
    return Empty.getDefaultInstance();
  }

  private DeleteResponse delete(DeleteRequest r) throws TtrpcException {
    Task t = task(r.getId());
    Proc p = proc(r.getId(), r.getExecId());
    if (p.state == State.RUNNING) {
      throw new TtrpcException(StatusCode.FAILED_PRECONDITION,
          "process " + (p.isInit() ? r.getId() : r.getExecId()) + " is running: kill it first");
    }
    if (!p.isInit()) {
      t.execs.remove(r.getExecId());
      p.io.close();
      p.discardIfNeverStarted();
      Instant at = p.exitedAt == null ? Instant.now() : p.exitedAt;
      events.publish("/tasks/delete", TaskDelete.newBuilder().setContainerId(t.id).setPid(pid)
          .setExitStatus(p.exitStatus).setExitedAt(Timestamps.of(at)).setId(r.getExecId()).build());
      return DeleteResponse.newBuilder().setPid(pid).setExitStatus(p.exitStatus).setExitedAt(Timestamps.of(at)).build();
    }
    try {
      containers(t.socket, BOOT_BUDGET_SECONDS).deleteContainer(
          DeleteContainerRequest.newBuilder().setId(t.isolaId).setForce(true).build());
    } catch (StatusRuntimeException e) {
      if (e.getStatus().getCode() != Status.Code.NOT_FOUND) {
        throw fromGrpc(e);
      }
    }
    p.discardIfNeverStarted();
    p.io.close();
    for (Proc e : t.execs.values()) {
      e.io.close();
      e.discardIfNeverStarted();
      e.exit.complete(null);
    }
    if (t.rootfsMounted) {
      Mounts.unmountAll(t.bundle.resolve("rootfs"));
    }
    tasks.remove(t.id);
    maybeDeleteSandbox(t.socket, t.sandboxId);
    Instant at = p.exitedAt == null ? Instant.now() : p.exitedAt;
    events.publish("/tasks/delete", TaskDelete.newBuilder().setContainerId(t.id).setPid(pid)
        .setExitStatus(p.exitStatus).setExitedAt(Timestamps.of(at)).setId(t.id).build());
    return DeleteResponse.newBuilder().setPid(pid).setExitStatus(p.exitStatus).setExitedAt(Timestamps.of(at)).build();
  }

  /** Removes a sandbox this shim created once no task of this shim uses it. */
  private void maybeDeleteSandbox(String socket, String sandboxId) {
    if (sandboxId.isEmpty() || !explicitSandboxes.containsKey(sandboxId)
        || tasks.values().stream().anyMatch(t -> t.sandboxId.equals(sandboxId))) {
      return;
    }
    try {
      sandboxes(socket, BOOT_BUDGET_SECONDS)
          .deleteSandbox(SandboxRef.newBuilder().setId(sandboxId).build());
    } catch (StatusRuntimeException e) {
      LOG.fine("cannot delete sandbox " + sandboxId + ": " + e.getMessage());
    }
    explicitSandboxes.remove(sandboxId);
  }

  private PidsResponse pids(PidsRequest r) throws TtrpcException {
    Task t = task(r.getId());
    PidsResponse.Builder out = PidsResponse.newBuilder();
    if (t.init.state == State.RUNNING) {
      out.addProcesses(ProcessInfo.newBuilder().setPid(pid));
    }
    return out.build();
  }

  private Empty exec(ExecProcessRequest r) throws TtrpcException {
    Task t = task(r.getId());
    if (r.getExecId().isEmpty()) {
      throw new TtrpcException(StatusCode.INVALID_ARGUMENT, "exec id is required");
    }
    if (t.init.state != State.RUNNING) {
      throw new TtrpcException(StatusCode.FAILED_PRECONDITION, "task " + t.id + " is not running");
    }
    ProcessSpec spec;
    try {
      JsonNode process = OciProcess.JSON.readTree(r.getSpec().getValue().toByteArray());
      spec = OciProcess.toProcessSpec(process, !r.getStdin().isEmpty());
    } catch (IOException e) {
      throw new TtrpcException(StatusCode.INVALID_ARGUMENT, "exec spec is not an OCI process (JSON): " + e.getMessage());
    }
    if (r.getTerminal()) {
      spec = spec.toBuilder().setTty(true).build();
    }
    if (spec.getArgsCount() == 0) {
      throw new TtrpcException(StatusCode.INVALID_ARGUMENT, "exec spec has no args");
    }
    Stdio io;
    synchronized (t) {
      if (t.execs.containsKey(r.getExecId())) {
        throw new TtrpcException(StatusCode.ALREADY_EXISTS, "exec " + r.getExecId() + " already exists in " + t.id);
      }
      try {
        io = Stdio.open(r.getStdin(), r.getStdout(), r.getTerminal() ? "" : r.getStderr(), namespace, t.id);
      } catch (IOException e) {
        throw new TtrpcException(StatusCode.INTERNAL, "cannot open the exec's stdio: " + e.getMessage());
      }
      t.execs.put(r.getExecId(), new Proc(t, r.getExecId(), r.getTerminal(), r.getStdin(), r.getStdout(),
          r.getStderr(), spec, io));
    }
    events.publish("/tasks/exec-added", TaskExecAdded.newBuilder().setContainerId(t.id).setExecId(r.getExecId()).build());
    return Empty.getDefaultInstance();
  }

  private Empty resizePty(ResizePtyRequest r) throws TtrpcException {
    Proc p = proc(r.getId(), r.getExecId());
    if (p.state != State.RUNNING || r.getWidth() == 0 || r.getHeight() == 0) {
      return Empty.getDefaultInstance();
    }
    containers(p.task.socket).resizeTty(ResizeTtyRequest.newBuilder().setProcess(p.ref())
        .setWidth(r.getWidth()).setHeight(r.getHeight()).build());
    return Empty.getDefaultInstance();
  }

  /**
   * Pause freezes the container's cgroup inside the guest (cgroup v2 cgroup.freeze): its processes
   * stop, while the VM and the pod's other containers keep running.
   */
  private Empty setPaused(String id, boolean paused) throws TtrpcException {
    Task t = task(id);
    ContainerRef ref = ContainerRef.newBuilder().setId(t.isolaId).build();
    if (paused) {
      containers(t.socket).pauseContainer(ref);
      t.init.paused = true;
      events.publish("/tasks/paused", io.isola.proto.containerd.events.TaskPaused.newBuilder()
          .setContainerId(t.id).build());
    } else {
      containers(t.socket).resumeContainer(ref);
      t.init.paused = false;
      events.publish("/tasks/resumed", io.isola.proto.containerd.events.TaskResumed.newBuilder()
          .setContainerId(t.id).build());
    }
    return Empty.getDefaultInstance();
  }

  private Empty closeIO(CloseIORequest r) throws TtrpcException {
    Proc p = proc(r.getId(), r.getExecId());
    if (r.getStdin()) {
      p.io.closeStdin(); // the pump sees the close and sends close_stdin on the Attach stream
      if (p.state == State.RUNNING && p.attach == null) {
        containers(p.task.socket).closeStdin(p.ref());
      }
    }
    return Empty.getDefaultInstance();
  }

  private Empty update(UpdateTaskRequest r) throws TtrpcException {
    task(r.getId());
    if (r.hasResources() && !r.getResources().getValue().isEmpty()) {
      throw new TtrpcException(StatusCode.UNIMPLEMENTED, "isola cannot change a running container's resources: "
          + "the sandbox VM's vCPUs and memory are fixed when it boots");
    }
    return Empty.getDefaultInstance();
  }

  private StatsResponse stats(StatsRequest r) throws TtrpcException {
    Task t = task(r.getId());
    ContainerStats s = containers(t.socket, 10)
        .stats(ContainerRef.newBuilder().setId(t.isolaId).build());
    Metrics m = Metrics.newBuilder()
        .setPids(PidsStat.newBuilder().setCurrent(s.getPids()))
        .setCpu(CPUStat.newBuilder().setUsage(CPUUsage.newBuilder().setTotal(s.getCpuUsageUsec() * 1000)))
        .setMemory(MemoryStat.newBuilder().setUsage(MemoryEntry.newBuilder().setUsage(s.getMemoryBytes())))
        .build();
    return StatsResponse.newBuilder().setStats(Any.newBuilder()
        .setTypeUrl("io.containerd.cgroups.v1.Metrics").setValue(m.toByteString())).build();
  }

  private ConnectResponse connect(ConnectRequest r) {
    return ConnectResponse.newBuilder().setShimPid(pid).setTaskPid(pid).build();
  }

  private Empty shutdown(ShutdownRequest r) {
    if (tasks.isEmpty()) {
      daemon("shutdown", () -> {
        sleep(100); // let the reply go out first
        shutdown.run();
      });
    }
    return Empty.getDefaultInstance();
  }

  /** Removes sandboxes this shim created and closes the isolad channels. */
  void close() {
    for (Map.Entry<String, String> e : new ArrayList<>(explicitSandboxes.entrySet())) {
      maybeDeleteSandbox(e.getValue(), e.getKey());
    }
    channels.values().forEach(ManagedChannel::shutdownNow);
  }

  private static void daemon(String name, Runnable body) {
    Thread t = new Thread(body, name);
    t.setDaemon(true);
    t.start();
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
