package io.isola.vmm.daemon;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.isola.proto.agent.v1.GetStatsResponse;
import io.isola.proto.agent.v1.WaitProcessResponse;
import io.isola.proto.v1.Event;
import io.isola.ttrpc.TtrpcException;
import io.isola.vmm.api.QuotaCheck;
import io.isola.vmm.api.Tenant;
import io.isola.vmm.catalog.Catalog;
import io.isola.vmm.catalog.CatalogException;
import io.isola.vmm.hypervisor.Hypervisor;
import io.isola.vmm.hypervisor.VmSpec;
import io.isola.vmm.image.Image;
import io.isola.vmm.image.PreparedRootfs;
import io.isola.vmm.image.RunOptions;
import io.isola.vmm.image.RuntimeSpecBuilder;
import io.isola.proto.agent.v1.ShareMount;
import io.isola.vmm.network.NetworkException;
import io.isola.vmm.network.NetworkSpec;
import io.isola.vmm.volume.VolumeException;
import io.isola.vmm.volume.VolumeRequest;
import io.isola.vmm.volume.VolumeRoots;
import io.isola.vmm.volume.VolumeStager;
import io.isola.vmm.sandbox.GuestBoot;
import io.isola.vmm.sandbox.GuestFiles;
import io.isola.vmm.sandbox.Sandbox;
import io.isola.vmm.sandbox.SandboxDirectories;
import io.isola.vmm.sandbox.SandboxException;
import io.isola.vmm.state.ContainerRecord;
import io.isola.vmm.state.ExecRecord;
import io.isola.vmm.state.HostProcess;
import io.isola.vmm.state.SandboxRecord;
import io.isola.vmm.state.StateStore;
import io.isola.vmm.util.FileTrees;
import io.isola.vmm.util.HostProcesses;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The sandbox and container model of isolad. Every change is written to the state store
 * before the call that made it answers; every object belongs to a tenant, and a tenant asking
 * about another tenant's object gets NOT_FOUND, exactly as for an object that does not exist.
 */
public final class Supervisor implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Supervisor.class.getName());
  static final String SHARE_TAG = "share";
  private static final Duration STOP_GRACE = Duration.ofSeconds(10);

  private final SupervisorSettings settings;
  private final StateStore store;
  private final Hypervisor hypervisor;
  private final EventBus events;
  private final ProcessLogs logs;
  private final Map<String, LiveSandbox> live = new ConcurrentHashMap<>();
  /** Exit of each watched process, by process key; completes with the final status. */
  private final Map<String, CompletableFuture<WaitProcessResponse>> exits = new ConcurrentHashMap<>();
  /** Serialises quota checks with the creations they admit. */
  private final Object admission = new Object();
  private volatile WarmPool pool;

  public Supervisor(SupervisorSettings settings, StateStore store, Hypervisor hypervisor, EventBus events,
      ProcessLogs logs) {
    this.settings = settings;
    this.store = store;
    this.hypervisor = hypervisor;
    this.events = events;
    this.logs = logs;
  }

  EventBus events() {
    return events;
  }

  /**
   * Starts keeping {@code warm_pool_size} VMs of the default profile booted (after recovery,
   * which must not mistake them for sandboxes).
   */
  public void startWarmPool() {
    GuestFiles defaults;
    try {
      defaults = GuestFiles.choose(catalog(), "", "");
    } catch (CatalogException | StatusRuntimeException e) {
      LOG.log(Level.WARNING, "no warm pool: the catalog has no default guest", e);
      return;
    }
    pool = new WarmPool(settings.warmPoolSize(), new WarmPool.Profile(settings.defaultVcpus(),
        settings.defaultMemoryMib(), defaults.kernel().name(), defaults.baseImage().name()),
        () -> defaults, hypervisor, settings.runRoot(), settings.stateRoot(), settings.writableLayerMib());
    pool.start();
  }

  /** Warm VMs waiting to be taken (0 without a pool). */
  public int warmVms() {
    WarmPool p = pool;
    return p == null ? 0 : p.ready();
  }

  // ------------------------------------------------------------------ sandboxes

  /** Validated sizes and names of a sandbox to create. */
  record SandboxRequest(String id, int vcpus, int memoryMib, String kernel, String baseImage,
      Map<String, String> labels, Map<String, String> annotations, NetworkSpec network) {}

  public SandboxRecord createSandbox(Tenant tenant, SandboxRequest request) {
    int vcpus = request.vcpus() == 0 ? settings.defaultVcpus() : request.vcpus();
    int memory = request.memoryMib() == 0 ? settings.defaultMemoryMib() : request.memoryMib();
    if (vcpus < 1 || vcpus > settings.maxVcpus()) {
      throw Failures.invalid("vcpus must be between 1 and " + settings.maxVcpus() + ", got " + vcpus);
    }
    if (memory < 64 || memory > settings.maxMemoryMib()) {
      throw Failures.invalid("memory_mib must be between 64 and " + settings.maxMemoryMib() + ", got " + memory);
    }
    NetworkSpec network = request.network();
    if (network.mode() == NetworkSpec.Mode.NETNS && !tenant.admin()) {
      // joining a host network namespace is the node's business (CNI through the shim)
      throw Status.PERMISSION_DENIED.withDescription("network mode netns is for admin tenants; use nat or none")
          .asRuntimeException();
    }
    if (!tenant.admin() && network.ports().stream().anyMatch(p -> p.hostPort() < 1024)) {
      // QEMU binds published ports with the supervisor's privileges: no tenant takes a system port
      throw Status.PERMISSION_DENIED.withDescription("host ports below 1024 are for admin tenants; publish on 1024-65535")
          .asRuntimeException();
    }
    GuestFiles guest;
    try {
      guest = GuestFiles.choose(catalog(), request.kernel(), request.baseImage());
    } catch (CatalogException e) {
      throw Failures.invalid(e.getMessage());
    }
    SandboxRecord record;
    Optional<WarmPool.Warm> warm;
    synchronized (admission) {
      if (store.getSandbox(request.id()).isPresent()) {
        // Another tenant's id must not be revealed: same answer as for the caller's own.
        throw Status.ALREADY_EXISTS.withDescription("sandbox id " + request.id() + " is taken; choose another")
            .asRuntimeException();
      }
      var usage = store.usage(tenant.name());
      Status quota = QuotaCheck.check(tenant, new QuotaCheck.Usage(usage.sandboxes(), (int) usage.vcpus(),
          usage.memoryMib()), vcpus, memory);
      if (!quota.isOk()) {
        throw quota.asRuntimeException();
      }
      SandboxDirectories dirs = null;
      WarmPool current = pool;
      warm = network.mode() != NetworkSpec.Mode.NONE || current == null ? Optional.empty()
          : current.take(new WarmPool.Profile(vcpus, memory, guest.kernel().name(), guest.baseImage().name()));
      try {
        dirs = warm.isPresent() ? warm.get().dirs().moveTo(settings.runRoot(), settings.stateRoot(), request.id())
            : SandboxDirectories.create(settings.runRoot(), settings.stateRoot(), request.id());
        if (warm.isEmpty()) {
          SandboxPlumbing.createShare(dirs, settings.writableLayerMib());
        }
        Files.createDirectories(dirs.readOnlyShare());
        Files.createDirectories(dirs.logs());
      } catch (IOException e) {
        warm.ifPresent(w -> w.sandbox().close());
        if (dirs != null) {
          removeDirs(dirs); // a full disk must not leave half a sandbox behind
        }
        throw Status.UNAVAILABLE.withDescription("cannot create the sandbox's files: " + e.getMessage())
            .withCause(e).asRuntimeException();
      }
      record = new SandboxRecord(request.id(), tenant.name(), SandboxRecord.State.CREATING, vcpus, memory,
          guest.kernel().name(), guest.baseImage().name(), request.labels(), request.annotations(), Instant.now(), 0, 0,
          HostProcess.bootId(), dirs.run().toString(), dirs.state().toString(), "", "", "");
      store.putSandbox(record);
    }
    SandboxDirectories dirs = dirsOf(record);
    Sandbox sandbox = warm.map(WarmPool.Warm::sandbox).orElse(null);
    try {
      guest.verify(settings.stateRoot());
      SandboxPlumbing.Network plumbing = SandboxPlumbing.setUp(network, dirs);
      if (sandbox == null) { // else a warm VM booted ahead for this profile: now this sandbox's alone
        VmSpec base = vmSpec(record, guest);
        VmSpec spec = new VmSpec(base.name(), base.kernel(), base.initrd(), base.kernelArgs(), base.vcpus(),
            base.memoryMib(), base.shares(), base.runDirectory(), plumbing.nics(), plumbing.netns());
        sandbox = Sandbox.boot(hypervisor, spec, GuestBoot.BOOT_DEADLINE);
      }
      SandboxPlumbing.configureGuest(sandbox, network, plumbing, dirs);
      long pid = sandbox.vm().pid();
      record = new SandboxRecord(record.id(), record.tenant(), SandboxRecord.State.RUNNING, vcpus, memory,
          record.kernel(), record.baseImage(), record.labels(), record.annotations(), record.createdAt(), pid,
          HostProcess.startTime(pid).orElse(0L), record.bootId(), record.runDir(), record.stateDir(),
          sandbox.guest().getKernelRelease(), sandbox.guest().getBootId(), "");
      store.updateSandbox(record);
      LiveSandbox liveSandbox = new LiveSandbox(record.id(), tenant.name(), sandbox, dirs);
      live.put(record.id(), liveSandbox);
      watchVm(liveSandbox);
      publish(record.tenant(), Event.Type.SANDBOX_CREATED, record.id(), "", "", 0, "");
      return record;
    } catch (CatalogException | SandboxException e) {
      if (sandbox != null) {
        sandbox.close();
      }
      forgetSandbox(record, dirs);
      throw Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException();
    } catch (NetworkException e) {
      if (sandbox != null) {
        sandbox.close();
      }
      forgetSandbox(record, dirs);
      throw Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asRuntimeException();
    } catch (TtrpcException | IOException e) {
      if (sandbox != null) {
        sandbox.close();
      }
      forgetSandbox(record, dirs);
      throw Failures.internal("cannot set up the sandbox's network: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      if (sandbox != null) {
        sandbox.close();
      }
      forgetSandbox(record, dirs);
      throw e;
    }
  }

  private void forgetSandbox(SandboxRecord record, SandboxDirectories dirs) {
    store.deleteSandbox(record.id());
    removeDirs(dirs);
  }

  private static VmSpec vmSpec(SandboxRecord record, GuestFiles guest) {
    SandboxDirectories dirs = dirsOf(record);
    return guest.vmSpec(record.id(), record.vcpus(), (int) record.memoryMib(), SandboxPlumbing.shares(dirs),
        dirs.run());
  }

  static SandboxDirectories dirsOf(SandboxRecord record) {
    return SandboxDirectories.existing(Path.of(record.runDir()), Path.of(record.stateDir()), record.id());
  }

  private Catalog catalog() {
    try {
      return Catalog.load(settings.catalog());
    } catch (CatalogException e) {
      throw Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asRuntimeException();
    }
  }

  /** When a VM ends on its own, its sandbox died: record it, and every process in it exited. */
  private void watchVm(LiveSandbox sandbox) {
    sandbox.sandbox.vm().exit().thenAccept(exit -> {
      if (live.remove(sandbox.id, sandbox)) {
        sandboxEnded(sandbox.id, SandboxRecord.State.DIED, exit.description());
      }
    });
  }

  private void sandboxEnded(String id, SandboxRecord.State state, String reason) {
    Optional<SandboxRecord> record = store.getSandbox(id);
    if (record.isEmpty()) {
      return;
    }
    store.updateSandbox(record.get().withState(state, reason));
    SandboxPlumbing.tearDown(dirsOf(record.get())); // the VM is gone: its taps and volume mounts go too
    Instant now = Instant.now();
    for (ContainerRecord c : store.listContainersBySandbox(id)) {
      if (c.state() != ContainerRecord.State.EXITED) {
        store.updateContainer(c.exited(137, false, now));
        completeExit(LiveSandbox.key(c.id(), ""), 137, false);
        publish(c.tenant(), Event.Type.CONTAINER_EXITED, id, c.id(), "", 137, reason);
      }
      for (ExecRecord e : store.listExecs(c.id())) {
        if (e.state() != ExecRecord.State.EXITED) {
          store.updateExec(e.exited(137, now));
          completeExit(LiveSandbox.key(c.id(), e.execId()), 137, false);
        }
      }
      logs.closeAll(dirsOf(record.get()), c.id());
    }
    publish(record.get().tenant(), state == SandboxRecord.State.DIED ? Event.Type.SANDBOX_DIED
        : Event.Type.SANDBOX_STOPPED, id, "", "", 0, reason);
  }

  public SandboxRecord getSandbox(Tenant tenant, String id) {
    return store.getSandbox(id).filter(s -> tenant.canSee(s.tenant()))
        .orElseThrow(() -> Failures.notFound("sandbox", id));
  }

  public List<SandboxRecord> listSandboxes(Tenant tenant, Map<String, String> selector) {
    List<SandboxRecord> all = tenant.admin() ? store.listSandboxes() : store.listSandboxes(tenant.name());
    return all.stream().filter(s -> selector.entrySet().stream()
        .allMatch(e -> e.getValue().equals(s.labels().get(e.getKey())))).toList();
  }

  public SandboxRecord relabel(Tenant tenant, String id, Map<String, String> labels) {
    synchronized (admission) {
      SandboxRecord r = getSandbox(tenant, id);
      SandboxRecord updated = new SandboxRecord(r.id(), r.tenant(), r.state(), r.vcpus(), r.memoryMib(), r.kernel(),
          r.baseImage(), labels, r.annotations(), r.createdAt(), r.qemuPid(), r.qemuStartTime(), r.bootId(),
          r.runDir(), r.stateDir(), r.guestKernelRelease(), r.guestBootId(), r.stopReason());
      store.updateSandbox(updated);
      return updated;
    }
  }

  public List<String> containerIds(String sandboxId) {
    return store.listContainersBySandbox(sandboxId).stream().map(ContainerRecord::id).toList();
  }

  public SandboxRecord stopSandbox(Tenant tenant, String id, Duration grace) {
    SandboxRecord record = getSandbox(tenant, id);
    LiveSandbox sandbox = live.remove(id);
    if (sandbox != null) {
      sandbox.sandbox.shutdown(grace);
      sandboxEnded(id, SandboxRecord.State.STOPPED, "stopped on request");
    } else if (record.state() == SandboxRecord.State.CREATING) {
      throw Failures.precondition("sandbox " + id + " is still being created");
    }
    return store.getSandbox(id).orElse(record);
  }

  public void deleteSandbox(Tenant tenant, String id) {
    SandboxRecord record = getSandbox(tenant, id);
    stopSandbox(tenant, id, STOP_GRACE);
    removeDirs(dirsOf(record));
    store.deleteSandbox(id);
    publish(record.tenant(), Event.Type.SANDBOX_DELETED, id, "", "", 0, "");
  }

  private static void removeDirs(SandboxDirectories dirs) {
    SandboxPlumbing.tearDown(dirs);
    try {
      dirs.removeRun();
      dirs.removeState();
    } catch (IOException e) {
      LOG.log(Level.WARNING, "cannot remove the files of sandbox " + dirs.id(), e);
    }
  }

  private LiveSandbox running(SandboxRecord record) {
    LiveSandbox sandbox = live.get(record.id());
    if (sandbox == null) {
      throw Failures.precondition("sandbox " + record.id() + " is not running (" + record.state().name().toLowerCase()
          + (record.stopReason().isEmpty() ? "" : ": " + record.stopReason()) + ")");
    }
    return sandbox;
  }

  // ------------------------------------------------------------------ containers

  /** A container to create; the image is a host path the daemon reads. */
  record ContainerRequest(String id, String sandboxId, Path image, RunOptions options, boolean stdin,
      Map<String, String> labels, SandboxRequest newSandbox, List<VolumeRequest> volumes, long shmSizeBytes) {}

  public ContainerRecord createContainer(Tenant tenant, ContainerRequest request) {
    if (store.getContainer(request.id()).isPresent()) {
      throw Status.ALREADY_EXISTS.withDescription("container id " + request.id() + " is taken; choose another")
          .asRuntimeException();
    }
    boolean ownsSandbox = request.sandboxId().isEmpty();
    SandboxRecord sandboxRecord = ownsSandbox
        ? createSandbox(tenant, request.newSandbox())
        : getSandbox(tenant, request.sandboxId());
    try {
      LiveSandbox sandbox = running(sandboxRecord);
      Path rootfs = sandbox.dirs.share().resolve(request.id()).resolve("rootfs");
      byte[] config;
      VolumeStager volumes = volumeStager(tenant, sandbox.dirs);
      try (Image image = Image.open(request.image())) {
        PreparedRootfs prepared = image.unpackTo(rootfs);
        // before volumes are bound below it: the hand-over never crosses into a volume
        sandbox.sandbox.vm().handOver(sandbox.dirs.share().resolve(request.id()));
        List<RunOptions.Mount> mounts = new java.util.ArrayList<>(VolumeStager.etcMounts(sandbox.dirs.readOnlyShare()));
        List<RunOptions.Mount> staged = volumes.stage(request.id(), request.volumes());
        mounts.removeIf(m -> staged.stream().anyMatch(v -> v.destination().equals(m.destination())));
        mounts.addAll(staged);
        RunOptions options = request.options().withMounts(mounts, request.shmSizeBytes());
        config = RuntimeSpecBuilder.runtimeSpec(image.config(), options, prepared.path());
      } catch (VolumeException e) {
        deleteQuietly(sandbox.dirs.share().resolve(request.id()));
        throw Failures.invalid(e.getMessage());
      } catch (IOException e) {
        releaseVolumes(volumes, request.id());
        deleteQuietly(sandbox.dirs.share().resolve(request.id()));
        throw Failures.invalid(e.getMessage());
      }
      ContainerRecord record = new ContainerRecord(request.id(), sandboxRecord.id(), tenant.name(),
          ContainerRecord.State.CREATED, request.image().toString(), request.options().args(),
          request.options().terminal(), request.stdin(), request.labels(), Instant.now(), null, null, 0, false,
          ownsSandbox);
      try {
        sandbox.sandbox.agent().createContainer(request.id(), config, SHARE_TAG,
            SandboxDirectories.rootfsPathInShare(request.id()), request.stdin(), request.options().terminal(),
            List.of(ShareMount.newBuilder().setTag(VolumeStager.READ_ONLY_TAG).setReadOnly(true).build()));
      } catch (TtrpcException e) {
        releaseVolumes(volumes, request.id());
        deleteQuietly(sandbox.dirs.share().resolve(request.id()));
        throw Failures.fromAgent("cannot create the container", e);
      }
      store.putContainer(record);
      attachOutput(sandbox, record.id(), "", record.tty());
      publish(tenant.name(), Event.Type.CONTAINER_CREATED, sandboxRecord.id(), record.id(), "", 0, "");
      return record;
    } catch (RuntimeException e) {
      if (ownsSandbox) {
        deleteSandbox(tenant, sandboxRecord.id());
      }
      throw e;
    }
  }

  /**
   * Admins (the containerd shim) may bind sources from the configured volume roots; every tenant
   * from its own directory under {@code <state_root>/volumes}.
   */
  private VolumeStager volumeStager(Tenant tenant, SandboxDirectories dirs) {
    List<Path> roots = new java.util.ArrayList<>(List.of(settings.tenantVolumes(tenant.name())));
    if (tenant.admin()) {
      roots.add(settings.stateRoot().resolve("volumes"));
      roots.addAll(settings.volumeRoots());
    }
    LiveSandbox sandbox = live.get(dirs.id());
    return new VolumeStager(dirs.share(), SHARE_TAG, dirs.readOnlyShare(), new VolumeRoots(roots),
        sandbox == null ? java.util.OptionalLong.empty() : sandbox.sandbox.vm().confinedUid());
  }

  private static void releaseVolumes(VolumeStager volumes, String containerId) {
    try {
      volumes.release(containerId);
    } catch (IOException e) {
      LOG.log(Level.WARNING, "volumes of container " + containerId + " are still mounted", e);
    }
  }

  private void attachOutput(LiveSandbox sandbox, String containerId, String execId, boolean tty) {
    String key = LiveSandbox.key(containerId, execId);
    sandbox.outputs.computeIfAbsent(key, k -> new ProcessOutput(sandbox.sandbox.agent(), containerId, execId,
        logs.open(sandbox.dirs, containerId, execId), tty));
  }

  private static void deleteQuietly(Path path) {
    try {
      FileTrees.deleteTree(path);
    } catch (IOException e) {
      LOG.log(Level.WARNING, "cannot remove " + path, e);
    }
  }

  public ContainerRecord getContainer(Tenant tenant, String id) {
    return store.getContainer(id).filter(c -> tenant.canSee(c.tenant()))
        .orElseThrow(() -> Failures.notFound("container", id));
  }

  public List<ContainerRecord> listContainers(Tenant tenant, String sandboxId) {
    if (!sandboxId.isEmpty()) {
      getSandbox(tenant, sandboxId);
      return store.listContainersBySandbox(sandboxId);
    }
    return tenant.admin() ? store.listContainers() : store.listContainersByTenant(tenant.name());
  }

  public ContainerRecord startContainer(Tenant tenant, String id) {
    ContainerRecord record = getContainer(tenant, id);
    if (record.state() != ContainerRecord.State.CREATED) {
      throw Failures.precondition("container " + id + " was already started");
    }
    LiveSandbox sandbox = running(store.getSandbox(record.sandboxId()).orElseThrow());
    try {
      sandbox.sandbox.agent().startContainer(id);
    } catch (TtrpcException e) {
      throw Failures.fromAgent("cannot start the container", e);
    }
    record = record.started(Instant.now());
    store.updateContainer(record);
    watchExit(sandbox, record.tenant(), id, "");
    publish(record.tenant(), Event.Type.CONTAINER_STARTED, record.sandboxId(), id, "", 0, "");
    return record;
  }

  /** Waits for a process's exit in the guest, then records it. */
  private void watchExit(LiveSandbox sandbox, String tenant, String containerId, String execId) {
    String key = LiveSandbox.key(containerId, execId);
    exits.computeIfAbsent(key, k -> new CompletableFuture<>());
    Thread watcher = new Thread(() -> {
      WaitProcessResponse status;
      try {
        status = sandbox.sandbox.agent().waitProcess(containerId, execId);
      } catch (TtrpcException e) {
        return; // VM gone (recorded by the VM watcher) or supervisor stopping (the next one re-watches)
      }
      Instant now = Instant.now();
      if (execId.isEmpty()) {
        store.getContainer(containerId).ifPresent(c -> store.updateContainer(
            c.exited(status.getExitStatus(), status.getOomKilled(), now)));
        if (status.getOomKilled()) {
          publish(tenant, Event.Type.CONTAINER_OOM, sandbox.id, containerId, "", status.getExitStatus(), "");
        }
        publish(tenant, Event.Type.CONTAINER_EXITED, sandbox.id, containerId, "", status.getExitStatus(), "");
      } else {
        store.getExec(containerId, execId).ifPresent(e -> store.updateExec(e.exited(status.getExitStatus(), now)));
        publish(tenant, Event.Type.EXEC_EXITED, sandbox.id, containerId, execId, status.getExitStatus(), "");
      }
      exits.get(key).complete(status);
    }, "wait-" + key);
    watcher.setDaemon(true);
    watcher.start();
  }

  private void completeExit(String key, int status, boolean oom) {
    exits.computeIfAbsent(key, k -> new CompletableFuture<>())
        .complete(WaitProcessResponse.newBuilder().setExitStatus(status).setOomKilled(oom).build());
  }

  /** An exec'd process; returns its id. */
  public String exec(Tenant tenant, String containerId, String execId, RunOptions options, boolean stdin) {
    ContainerRecord container = getContainer(tenant, containerId);
    if (container.state() != ContainerRecord.State.RUNNING) {
      throw Failures.precondition("container " + containerId + " is not running ("
          + container.state().name().toLowerCase() + ")");
    }
    if (store.getExec(containerId, execId).isPresent()) {
      throw Status.ALREADY_EXISTS.withDescription("exec id " + execId + " is taken in " + containerId)
          .asRuntimeException();
    }
    LiveSandbox sandbox = running(store.getSandbox(container.sandboxId()).orElseThrow());
    byte[] process;
    try {
      process = RuntimeSpecBuilder.execProcessSpec(io.isola.vmm.image.ImageConfig.EMPTY, options,
          sandbox.dirs.share().resolve(containerId).resolve("rootfs"));
    } catch (IOException e) {
      throw Failures.invalid(e.getMessage());
    }
    ExecRecord record = new ExecRecord(containerId, execId, container.tenant(), options.args(), options.terminal(),
        stdin, ExecRecord.State.RUNNING, 0, null);
    store.putExec(record);
    try {
      sandbox.sandbox.agent().execProcess(containerId, execId, process, stdin, options.terminal());
    } catch (TtrpcException e) {
      store.deleteExec(containerId, execId);
      throw Failures.fromAgent("cannot exec in " + containerId, e);
    }
    attachOutput(sandbox, containerId, execId, options.terminal());
    watchExit(sandbox, container.tenant(), containerId, execId);
    publish(container.tenant(), Event.Type.EXEC_STARTED, container.sandboxId(), containerId, execId, 0, "");
    return execId;
  }

  private LiveSandbox liveFor(ContainerRecord container) {
    return running(store.getSandbox(container.sandboxId()).orElseThrow());
  }

  private void requireProcess(ContainerRecord container, String execId) {
    if (!execId.isEmpty() && store.getExec(container.id(), execId).isEmpty()) {
      throw Failures.notFound("exec", container.id() + "/" + execId);
    }
  }

  public void signal(Tenant tenant, String containerId, String execId, int signal) {
    if (signal < 1 || signal > 64) {
      throw Failures.invalid("signal must be between 1 and 64, got " + signal);
    }
    ContainerRecord container = getContainer(tenant, containerId);
    requireProcess(container, execId);
    try {
      liveFor(container).sandbox.agent().signal(containerId, execId, signal);
    } catch (TtrpcException e) {
      throw Failures.fromAgent("cannot signal " + LiveSandbox.key(containerId, execId), e);
    }
  }

  /** The exit status, once the process has exited (blocks). */
  public CompletableFuture<WaitProcessResponse> exitOf(Tenant tenant, String containerId, String execId) {
    ContainerRecord container = getContainer(tenant, containerId);
    requireProcess(container, execId);
    if (execId.isEmpty() && container.state() == ContainerRecord.State.EXITED) {
      return CompletableFuture.completedFuture(WaitProcessResponse.newBuilder()
          .setExitStatus(container.exitStatus()).setOomKilled(container.oomKilled()).build());
    }
    if (!execId.isEmpty()) {
      ExecRecord exec = store.getExec(containerId, execId).orElseThrow();
      if (exec.state() == ExecRecord.State.EXITED) {
        return CompletableFuture.completedFuture(WaitProcessResponse.newBuilder()
            .setExitStatus(exec.exitStatus()).build());
      }
    }
    return exits.computeIfAbsent(LiveSandbox.key(containerId, execId), k -> new CompletableFuture<>());
  }

  public void writeStdin(Tenant tenant, String containerId, String execId, ByteString data) {
    ContainerRecord container = getContainer(tenant, containerId);
    try {
      liveFor(container).sandbox.agent().writeStdin(containerId, execId, data);
    } catch (TtrpcException e) {
      throw Failures.fromAgent("cannot write to stdin", e);
    }
  }

  public void closeStdin(Tenant tenant, String containerId, String execId) {
    ContainerRecord container = getContainer(tenant, containerId);
    requireProcess(container, execId);
    try {
      liveFor(container).sandbox.agent().closeStdin(containerId, execId);
    } catch (TtrpcException e) {
      throw Failures.fromAgent("cannot close stdin", e);
    }
  }

  public void resize(Tenant tenant, String containerId, String execId, int width, int height) {
    ContainerRecord container = getContainer(tenant, containerId);
    requireProcess(container, execId);
    try {
      liveFor(container).sandbox.agent().resizeTerminal(containerId, execId, width, height);
    } catch (TtrpcException e) {
      throw Failures.fromAgent("cannot resize the terminal", e);
    }
  }

  /** Freezes or thaws a running container's processes in the guest. */
  public ContainerRecord setPaused(Tenant tenant, String containerId, boolean paused) {
    ContainerRecord container = getContainer(tenant, containerId);
    ContainerRecord.State from = paused ? ContainerRecord.State.RUNNING : ContainerRecord.State.PAUSED;
    if (container.state() != from) {
      throw Failures.precondition("container " + containerId + " is " + container.state().name().toLowerCase()
          + "; only a " + from.name().toLowerCase() + " container can be " + (paused ? "paused" : "resumed"));
    }
    try {
      liveFor(container).sandbox.agent().setPaused(containerId, paused);
    } catch (TtrpcException e) {
      throw Failures.fromAgent("cannot " + (paused ? "pause" : "resume") + " the container", e);
    }
    // The exit watcher may have recorded an exit meanwhile: only a live record changes state.
    ContainerRecord current = store.getContainer(containerId).orElseThrow();
    if (current.state() == from) {
      current = current.withState(paused ? ContainerRecord.State.PAUSED : ContainerRecord.State.RUNNING);
      store.updateContainer(current);
    }
    return current;
  }

  public GetStatsResponse stats(Tenant tenant, String containerId) {
    ContainerRecord container = getContainer(tenant, containerId);
    try {
      return liveFor(container).sandbox.agent().stats(containerId);
    } catch (TtrpcException e) {
      throw Failures.fromAgent("cannot read stats", e);
    }
  }

  /** Live output of a process, for Attach; empty when its sandbox no longer runs. */
  Optional<ProcessOutput> output(Tenant tenant, String containerId, String execId) {
    ContainerRecord container = getContainer(tenant, containerId);
    requireProcess(container, execId);
    LiveSandbox sandbox = live.get(container.sandboxId());
    return sandbox == null ? Optional.empty()
        : Optional.ofNullable(sandbox.outputs.get(LiveSandbox.key(containerId, execId)));
  }

  /** The log of a process (readable after it exited). */
  ProcessLogs.Reader logOf(Tenant tenant, String containerId, String execId) {
    ContainerRecord container = getContainer(tenant, containerId);
    requireProcess(container, execId);
    SandboxRecord sandbox = store.getSandbox(container.sandboxId()).orElseThrow();
    return logs.reader(dirsOf(sandbox), containerId, execId);
  }

  public void deleteContainer(Tenant tenant, String id, boolean force) {
    ContainerRecord record = getContainer(tenant, id);
    LiveSandbox sandbox = live.get(record.sandboxId());
    if ((record.state() == ContainerRecord.State.RUNNING || record.state() == ContainerRecord.State.PAUSED)
        && sandbox != null) {
      if (!force) {
        throw Failures.precondition("container " + id + " is running: stop it first, or use force (isola rm -f)");
      }
    }
    if (sandbox != null) {
      try {
        sandbox.sandbox.agent().destroyContainer(id);
      } catch (TtrpcException e) {
        if (!Failures.isGone(e) && e.code() != io.isola.ttrpc.StatusCode.NOT_FOUND) {
          throw Failures.fromAgent("cannot destroy the container", e);
        }
      }
      sandbox.outputs.keySet().removeIf(k -> k.equals(id) || k.startsWith(id + "/"));
      // unmount the container's volumes first: the delete below refuses to go through a mount
      releaseVolumes(volumeStager(tenant, sandbox.dirs), id);
      deleteQuietly(sandbox.dirs.share().resolve(id));
    }
    SandboxRecord sandboxRecord = store.getSandbox(record.sandboxId()).orElseThrow();
    logs.delete(dirsOf(sandboxRecord), id);
    store.deleteContainer(id);
    exits.keySet().removeIf(k -> k.equals(id) || k.startsWith(id + "/"));
    publish(record.tenant(), Event.Type.CONTAINER_DELETED, record.sandboxId(), id, "", 0, "");
    if (record.ownsSandbox()) {
      deleteSandbox(tenant, record.sandboxId());
    }
  }

  // ------------------------------------------------------------------ restarts

  /**
   * Re-adopts every sandbox the store says is running: the QEMU must still be the same process
   * (pid plus start time, same host boot); then its control channel and agent are reconnected,
   * output pumps resume and exits that happened meanwhile are collected. A sandbox whose VM is
   * gone is recorded as died and its files are removed.
   */
  public void recover() {
    String bootId = HostProcess.bootId();
    Catalog catalog = null;
    for (SandboxRecord record : store.listSandboxes()) {
      if (record.state() != SandboxRecord.State.RUNNING && record.state() != SandboxRecord.State.CREATING) {
        continue;
      }
      SandboxDirectories dirs = dirsOf(record);
      boolean sameProcess = record.qemuPid() > 0 && bootId.equals(record.bootId())
          && HostProcess.isSameProcess(record.qemuPid(), record.qemuStartTime());
      if (!sameProcess) {
        sandboxEnded(record.id(), SandboxRecord.State.DIED, "the VM ended while isolad was down");
        deleteQuietly(dirs.run());
        continue;
      }
      try {
        catalog = catalog == null ? catalog() : catalog;
        VmSpec spec = vmSpec(record, GuestFiles.choose(catalog, record.kernel(), record.baseImage()));
        Sandbox sandbox = Sandbox.adopt(hypervisor, spec, record.qemuPid(), Duration.ofSeconds(20));
        LiveSandbox liveSandbox = new LiveSandbox(record.id(), record.tenant(), sandbox, dirs);
        live.put(record.id(), liveSandbox);
        watchVm(liveSandbox);
        for (ContainerRecord c : store.listContainersBySandbox(record.id())) {
          if (c.state() == ContainerRecord.State.EXITED) {
            continue;
          }
          attachOutput(liveSandbox, c.id(), "", c.tty());
          if (c.state() != ContainerRecord.State.CREATED) {
            watchExit(liveSandbox, c.tenant(), c.id(), "");
          }
          for (ExecRecord e : store.listExecs(c.id())) {
            if (e.state() != ExecRecord.State.EXITED) {
              attachOutput(liveSandbox, c.id(), e.execId(), e.tty());
              watchExit(liveSandbox, c.tenant(), c.id(), e.execId());
            }
          }
        }
        LOG.info("re-adopted sandbox " + record.id() + " (QEMU pid " + record.qemuPid() + ")");
      } catch (CatalogException | SandboxException | RuntimeException e) {
        LOG.log(Level.WARNING, "cannot re-adopt sandbox " + record.id(), e);
        // a VM nobody can manage must not run on: stop it (still the same process: checked above)
        ProcessHandle.of(record.qemuPid()).ifPresent(HostProcesses::killAndWait);
        sandboxEnded(record.id(), SandboxRecord.State.DIED, "could not be re-adopted: " + e.getMessage());
        deleteQuietly(dirs.run());
      }
    }
  }

  /** Stops every VM (isolad --shutdown-sandboxes). */
  public void shutdownSandboxes() {
    for (LiveSandbox sandbox : List.copyOf(live.values())) {
      live.remove(sandbox.id);
      sandbox.sandbox.shutdown(STOP_GRACE);
      sandboxEnded(sandbox.id, SandboxRecord.State.STOPPED, "isolad --shutdown-sandboxes");
    }
  }

  /** Lets go of every VM and leaves it running, for the next isolad to adopt. */
  @Override
  public void close() {
    WarmPool p = pool;
    if (p != null) {
      p.close();
    }
    for (LiveSandbox sandbox : List.copyOf(live.values())) {
      live.remove(sandbox.id);
      sandbox.sandbox.release();
    }
    events.closeAll();
  }

  private void publish(String tenant, Event.Type type, String sandboxId, String containerId, String execId,
      int status, String detail) {
    Instant now = Instant.now();
    events.publish(tenant, Event.newBuilder().setType(type).setSandboxId(sandboxId).setContainerId(containerId)
        .setExecId(execId).setExitStatus(status).setDetail(detail)
        .setAt(com.google.protobuf.Timestamp.newBuilder().setSeconds(now.getEpochSecond()).setNanos(now.getNano()))
        .build());
  }

  static StatusRuntimeException unavailable(String message) {
    return Status.UNAVAILABLE.withDescription(message).asRuntimeException();
  }
}
