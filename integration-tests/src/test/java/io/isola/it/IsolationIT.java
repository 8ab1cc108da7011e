package io.isola.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.isola.it.containerd.ContainerdProcess;
import io.isola.proto.v1.Container;
import io.isola.proto.v1.ContainerRef;
import io.isola.proto.v1.ContainersGrpc;
import io.isola.proto.v1.CreateContainerRequest;
import io.isola.proto.v1.CreateSandboxRequest;
import io.isola.proto.v1.Event;
import io.isola.proto.v1.EventsGrpc;
import io.isola.proto.v1.GetHostInfoRequest;
import io.isola.proto.v1.HostGrpc;
import io.isola.proto.v1.LogChunk;
import io.isola.proto.v1.LogsRequest;
import io.isola.proto.v1.ProcessRef;
import io.isola.proto.v1.ProcessSpec;
import io.isola.proto.v1.Resources;
import io.isola.proto.v1.SandboxRef;
import io.isola.proto.v1.SandboxesGrpc;
import io.isola.proto.v1.SubscribeRequest;
import io.isola.proto.v1.WaitResponse;
import io.isola.vmm.api.ApiClients;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trust boundaries of docs/threat-model.md, tried for real: each QEMU's jail as the host
 * kernel reports it, and tenant code running as root in its guest attacking its limits, the
 * 9p share, the host and its neighbour. After each attack the host, isolad and a neighbour
 * sandbox keep working, and the API says what happened.
 */
class IsolationIT {
  private static final String CONFIG = """
      [daemon]
      writable_layer_mib = 256
      [[tenants]]
      name = "alice"
      uids = [1000]
      """;
  private static final long JAIL_UID_BASE = 4_000_000L;
  @TempDir static Path dir;
  private static IsoladProcess isolad;
  private static ManagedChannel channel;
  private static SandboxesGrpc.SandboxesBlockingStub sandboxes;
  private static ContainersGrpc.ContainersBlockingStub containers;
  private static final String IMAGE = IsolaProcess.DEMO_IMAGE.toString();
  private static final List<Event> events = new CopyOnWriteArrayList<>();
  private static Context.CancellableContext subscription;

  @BeforeAll
  static void start() throws Exception {
    isolad = new IsoladProcess(dir, CONFIG).start();
    channel = ApiClients.unix(isolad.socket);
    sandboxes = SandboxesGrpc.newBlockingStub(channel);
    containers = ContainersGrpc.newBlockingStub(channel);
    subscription = Context.current().withCancellation();
    subscription.run(() -> EventsGrpc.newStub(channel).subscribe(SubscribeRequest.getDefaultInstance(),
        new io.grpc.stub.StreamObserver<>() {
          public void onNext(Event e) {
            events.add(e);
          }

          public void onError(Throwable t) {}

          public void onCompleted() {}
        }));
    sandbox("neighbour");
  }

  @AfterAll
  static void stop() throws Exception {
    subscription.cancel(null);
    channel.shutdownNow();
    isolad.close();
    assertEquals(List.of(), IsolaProcess.qemuProcessesUnder(dir), "no QEMU left");
    assertEquals(List.of(), ContainerdProcess.mountsUnder(dir), "no mount left");
    assertEquals(List.of(), loopDevicesUnder(dir), "no loop device left");
  }

  private static void sandbox(String id) {
    sandboxes.withDeadlineAfter(300, TimeUnit.SECONDS).createSandbox(CreateSandboxRequest.newBuilder().setId(id).build());
  }

  private static void delete(String id) {
    sandboxes.withDeadlineAfter(120, TimeUnit.SECONDS).deleteSandbox(SandboxRef.newBuilder().setId(id).build());
  }

  private static Container start(String sandboxId, String id, Resources resources, String script) {
    containers.withDeadlineAfter(300, TimeUnit.SECONDS).createContainer(CreateContainerRequest.newBuilder()
        .setId(id).setSandboxId(sandboxId).setImage(IMAGE).setResources(resources)
        .setProcess(ProcessSpec.newBuilder().addAllArgs(List.of("sh", "-c", script))).build());
    return containers.startContainer(ContainerRef.newBuilder().setId(id).build());
  }

  record Result(int status, boolean oomKilled, String stdout, String stderr) {}

  private static Result run(String sandboxId, String id, Resources resources, String script) {
    start(sandboxId, id, resources, script);
    WaitResponse exit = containers.withDeadlineAfter(240, TimeUnit.SECONDS)
        .wait(ProcessRef.newBuilder().setContainerId(id).build());
    StringBuilder out = new StringBuilder();
    StringBuilder err = new StringBuilder();
    Iterator<LogChunk> chunks = containers.logs(LogsRequest.newBuilder().setContainerId(id).build());
    chunks.forEachRemaining(c -> (c.getStream() == LogChunk.Stream.STDOUT ? out : err).append(c.getData().toStringUtf8()));
    return new Result(exit.getExitStatus(), exit.getOomKilled(), out.toString(), err.toString());
  }

  private static int probes;

  /** The neighbour sandbox runs a new container and isolad answers: the attack stayed inside. */
  private static void neighbourAndHostStillWork(String after) {
    String id = "probe" + probes++;
    Result r = run("neighbour", id, Resources.getDefaultInstance(), "echo alive");
    assertEquals(new Result(0, false, "alive\n", ""), r, "the neighbour works after " + after);
    assertTrue(HostGrpc.newBlockingStub(channel).getHostInfo(GetHostInfoRequest.getDefaultInstance()).getVersion()
        .length() > 0, "isolad answers after " + after);
  }

  // ------------------------------------------------------------------------------------- jail

  @Test
  void everyQemuRunsConfinedInItsOwnJail() throws Exception {
    sandbox("jailed");
    try {
      ProcessHandle a = qemuOf("neighbour");
      ProcessHandle b = qemuOf("jailed");
      Map<String, String> sa = status(a.pid());
      Map<String, String> sb = status(b.pid());
      long uidA = Long.parseLong(sa.get("Uid").split("\\s+")[0]);
      long uidB = Long.parseLong(sb.get("Uid").split("\\s+")[0]);
      for (Map<String, String> s : List.of(sa, sb)) {
        String[] uids = s.get("Uid").split("\\s+");
        String[] gids = s.get("Gid").split("\\s+");
        assertTrue(Stream.of(uids).allMatch(u -> u.equals(uids[0])), "real, effective, saved, fs uid alike: " + s);
        assertTrue(Stream.of(gids).allMatch(g -> g.equals(uids[0])), "gid equal to the uid: " + s);
        assertTrue(Long.parseLong(uids[0]) >= JAIL_UID_BASE, "a uid from the jail range, never root: " + s);
        assertEquals("", s.get("Groups").strip(), "no supplementary groups");
        for (String cap : List.of("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")) {
          assertEquals(0L, Long.parseLong(s.get(cap).strip(), 16), cap + ": no capability");
        }
        assertEquals("1", s.get("NoNewPrivs").strip());
        assertEquals("2", s.get("Seccomp").strip(), "QEMU's seccomp filter is on");
      }
      assertNotEquals(uidA, uidB, "two live sandboxes never share a uid");

      for (ProcessHandle q : List.of(a, b)) {
        Path proc = Path.of("/proc", Long.toString(q.pid()));
        assertNotEquals(Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")), Files.readSymbolicLink(proc.resolve("ns/mnt")),
            "its own mount namespace");
        Set<String> root = list(proc.resolve("root"));
        for (String hostOnly : List.of("etc", "root", "home", "var", "boot", "sys", ".host")) {
          assertFalse(root.contains(hostOnly), "/" + hostOnly + " is not in the jail: " + root);
        }
        assertTrue(root.containsAll(List.of("usr", "dev", "proc")), root.toString());
        assertEquals(Set.of("null", "random", "urandom", "zero"), list(proc.resolve("root/dev")),
            "no device beyond these (no KVM here)");
        // what QEMU's uid sees in its own /proc (root, reading from outside, would see everything)
        long uid = uidOf(q.pid());
        Process ls = new ProcessBuilder("nsenter", "--target", Long.toString(q.pid()), "--mount",
            "--setuid", Long.toString(uid), "--setgid", Long.toString(uid), "/usr/bin/ls", "/proc").start();
        Set<String> visible = new String(ls.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines()
            .filter(n -> n.matches("[0-9]+")).collect(Collectors.toSet());
        assertTrue(ls.waitFor(30, TimeUnit.SECONDS));
        assertTrue(visible.contains(Long.toString(q.pid())), "it sees itself: " + visible);
        assertTrue(visible.size() <= 2, "its /proc shows only its own uid's processes (itself, ls): " + visible);
        assertFalse(Files.exists(proc.resolve("root/etc/shadow")), "no host /etc/shadow");
        assertEquals("PATH=/usr/bin:/bin", Files.readString(proc.resolve("environ")).replace('\0', '\n').strip(),
            "a clean environment");
        String cgroup = Files.readString(proc.resolve("cgroup"));
        assertTrue(cgroup.lines().anyMatch(l -> l.matches("\\d+:memory:/isola/.+")), cgroup);
        assertTrue(cgroup.lines().anyMatch(l -> l.matches("\\d+:pids:/isola/.+")), cgroup);
        assertTrue(cgroup.lines().anyMatch(l -> l.matches("\\d+:cpu:/isola/.+")), cgroup);
        for (Path fd : Files.list(proc.resolve("fd")).toList()) {
          String target = Files.readSymbolicLink(fd).toString();
          assertTrue(target.startsWith("/dev/") || target.startsWith("anon_inode:") || target.startsWith("socket:")
              || target.startsWith("pipe:") || target.startsWith(dir.toString()),
              "only its own files are open: " + target);
        }
      }
      Path memory = Path.of("/sys/fs/cgroup/memory/isola/jailed");
      assertEquals((256L + 256L) << 20, Long.parseLong(Files.readString(memory.resolve("memory.limit_in_bytes")).strip()),
          "guest memory plus the overhead");
      assertEquals("512", Files.readString(Path.of("/sys/fs/cgroup/pids/isola/jailed/pids.max")).strip());
      assertEquals("150000", Files.readString(Path.of("/sys/fs/cgroup/cpu/isola/jailed/cpu.cfs_quota_us")).strip(),
          "one core per vCPU plus half a core");
      delete("jailed");
      assertFalse(Files.exists(memory), "the cgroup goes with the sandbox");
      final long gone = uidB;
      assertTrue(ProcessHandle.allProcesses().noneMatch(p -> uidOf(p.pid()) == gone), "nothing runs as its uid");
    } finally {
      if (sandboxes.listSandboxes(io.isola.proto.v1.ListSandboxesRequest.getDefaultInstance()).getSandboxesList()
          .stream().anyMatch(s -> s.getId().equals("jailed"))) {
        delete("jailed");
      }
    }
  }

  @Test
  void isolaCheckReportsTheJailFeatures() throws Exception {
    IsolaProcess.Result check = IsolaProcess.start(dir.resolve("run"), dir.resolve("state"), "check",
        "--config", isolad.config.toString()).await(60);
    String out = check.stdout();
    assertEquals(0, check.exitCode(), check.toString());
    assertTrue(out.contains("jail: enabled"), out);
    assertTrue(out.contains("  cgroups: yes (cgroup v1 (cpu, memory, pids), parent isola)"), out);
    assertTrue(out.contains("  jailer: yes"), out);
    assertTrue(out.contains("qemu seccomp: yes"), out);
  }

  @Test
  void aLayerThatCannotBeMadeIsAClearErrorAndLeavesNothing() throws Exception {
    // 1 PiB: more than ext4 allows in one file, as a full disk would refuse it
    IsoladProcess other = new IsoladProcess(Files.createDirectories(dir.resolve("nolayer")),
        "[daemon]\nwritable_layer_mib = 1073741824\n").start();
    ManagedChannel ch = ApiClients.unix(other.socket);
    try {
      io.grpc.StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(io.grpc.StatusRuntimeException.class,
          () -> SandboxesGrpc.newBlockingStub(ch).withDeadlineAfter(120, TimeUnit.SECONDS)
              .createSandbox(CreateSandboxRequest.newBuilder().setId("nolayer").build()));
      assertEquals(io.grpc.Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
      assertTrue(e.getStatus().getDescription().contains("writable_layer_mib"), e.getStatus().getDescription());
      assertFalse(Files.exists(other.stateRoot.resolve("sandboxes/nolayer")), "no half-made sandbox left");
      assertFalse(Files.exists(other.runRoot.resolve("sandboxes/nolayer")), "no half-made sandbox left");
      assertEquals(0, SandboxesGrpc.newBlockingStub(ch).listSandboxes(
          io.isola.proto.v1.ListSandboxesRequest.getDefaultInstance()).getSandboxesCount());
    } finally {
      ch.shutdownNow();
      other.close();
    }
  }

  // ------------------------------------------------------------------------------------- abuse

  @Test
  void tenantCodeAsRootStaysInsideItsSandbox() throws Exception {
    sandbox("abuse");

    // Fork bomb under a pids limit: the container's cgroup in the guest stops it.
    Result bomb = run("abuse", "bomb", Resources.newBuilder().setPidsLimit(64).build(),
        // the count uses no fork: the limit is full by then
        "(for i in $(seq 300); do sleep 300 & done) 2>/dev/null; set -- /proc/[0-9]*; echo $#");
    int processes = Integer.parseInt(bomb.stdout().strip());
    assertTrue(processes >= 30 && processes <= 64, "the bomb ran into its pids limit: " + bomb);
    System.out.println("fork bomb: " + processes + " processes under a pids limit of 64");
    neighbourAndHostStillWork("a fork bomb");

    // Memory hog past its limit: killed by the guest's OOM killer and reported as OOM.
    Result hog = run("abuse", "hog", Resources.newBuilder().setMemoryLimitBytes(32L << 20).build(),
        "tail /dev/zero");
    assertTrue(hog.oomKilled(), "reported as an OOM kill: " + hog);
    assertEquals(137, hog.status(), hog.toString());
    awaitEvent(Event.Type.CONTAINER_OOM, "hog");
    neighbourAndHostStillWork("a memory hog");

    // Filling the writable layer: the sandbox's own 256 MiB layer fills, the host's disk does not.
    long hostFreeBefore = Files.getFileStore(isolad.stateRoot).getUsableSpace();
    Result fill = run("abuse", "fill", Resources.getDefaultInstance(),
        "dd if=/dev/zero of=/fill bs=1M count=2000 2>&1 | grep -o 'No space left on device' | head -1; "
            + "rm /fill; echo again > /again && cat /again");
    assertTrue(fill.stdout().contains("No space left on device"), fill.toString());
    assertTrue(fill.stdout().endsWith("again\n"), "space comes back when the file goes: " + fill);
    long layerBytes = Files.size(isolad.stateRoot.resolve("sandboxes/abuse/layer.ext4"));
    assertEquals(256L << 20, layerBytes, "the layer's size is fixed");
    long hostUsed = hostFreeBefore - Files.getFileStore(isolad.stateRoot).getUsableSpace();
    assertTrue(hostUsed < (300L << 20), "the host lost at most the layer's size: " + (hostUsed >> 20) + " MiB");
    System.out.println("fill: ENOSPC inside a 256 MiB layer; host free space changed by " + (hostUsed >> 20) + " MiB");
    neighbourAndHostStillWork("filling the writable layer");

    // CPU spin on every vCPU: the neighbour keeps working; the host caps the VM by its quota.
    start("abuse", "spin", Resources.getDefaultInstance(), "for i in 1 2 3 4; do (while :; do :; done) & done; wait");
    TimeUnit.SECONDS.sleep(3);
    neighbourAndHostStillWork("CPU spin on every vCPU");
    String cpuStat = Files.readString(Path.of("/sys/fs/cgroup/cpu/isola/abuse/cpu.stat"));
    assertTrue(cpuStat.contains("nr_periods") && !cpuStat.contains("nr_periods 0\n"), "the CPU quota is in force: " + cpuStat);
    containers.signal(io.isola.proto.v1.SignalRequest.newBuilder().setProcess(ProcessRef.newBuilder().setContainerId("spin")).setSignal(9).build());

    // The 9p share: guest-made symlinks, set-uid files and device nodes mean nothing on the host.
    Result share = run("abuse", "links", Resources.getDefaultInstance(), String.join("; ",
        "ln -s /etc /escape", "ln -s ../../../../../../../../etc /dots", "cp /bin/busybox /suid",
        "chmod 4755 /suid", "mknod /nod c 1 3 2>/dev/null || echo no-mknod", "ls /escape/ | head -3",
        "cat /dots/hostname 2>/dev/null; echo done"));
    assertEquals(0, share.status(), share.toString());
    Path guestRoot = isolad.stateRoot.resolve("sandboxes/abuse/share/links/rootfs");
    for (String name : List.of("escape", "dots", "suid", "nod")) {
      Path p = guestRoot.resolve(name);
      if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
        assertTrue(Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS), name + " is a plain host file");
        int mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        assertEquals(0, mode & 06000, name + " carries no set-uid/set-gid bit on the host");
      }
    }
    assertTrue(Files.exists(guestRoot.resolve("escape"), LinkOption.NOFOLLOW_LINKS), "the guest's link is in the share");

    // Looking for the host: a kernel of its own, only its own processes, no network (mode none).
    String hostKernel = Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
    Result look = run("abuse", "look", Resources.getDefaultInstance(), String.join("; ",
        "uname -r", "ls /proc | grep -c '^[0-9]'", "ip -o link | cut -d: -f2 | tr -d ' '",
        "nc -w 2 10.0.2.2 22 </dev/null 2>/dev/null && echo REACHED || echo unreachable",
        "ls /dev | grep -c -e vport -e hvc -e vda || true"));
    List<String> lines = look.stdout().lines().toList();
    assertNotEquals(hostKernel, lines.get(0), "the guest runs its own kernel");
    assertTrue(Integer.parseInt(lines.get(1)) <= 5, "only the container's own processes: " + look);
    assertEquals(List.of("lo", "unreachable", "0"), lines.subList(2, 5), look.toString());

    // Killing everything it can see (its own pid namespace): the agent survives, the sandbox works.
    Result killer = run("abuse", "killer", Resources.getDefaultInstance(),
        "sleep 100 & sleep 100 & kill -9 -1; wait; echo survived");
    assertEquals(new Result(0, false, "survived\n", ""), killer, "kill -9 -1 reaches only the container's own");
    assertEquals(new Result(0, false, "still\n", ""), run("abuse", "after", Resources.getDefaultInstance(), "echo still"),
        "the sandbox's agent outlives its containers");
    neighbourAndHostStillWork("kill -9 -1");

    // A crashing QEMU (killed here): the API says so, its container's wait ends, nothing stays.
    start("abuse", "last", Resources.getDefaultInstance(), "sleep 600");
    ProcessHandle qemu = qemuOf("abuse");
    qemu.destroyForcibly();
    containers.withDeadlineAfter(60, TimeUnit.SECONDS).wait(ProcessRef.newBuilder().setContainerId("last").build());
    io.isola.proto.v1.Sandbox died = awaitSandboxState("abuse", io.isola.proto.v1.SandboxState.SANDBOX_DIED);
    assertTrue(died.getStopReason().contains("signal 9"), died.toString());
    assertFalse(Files.exists(Path.of("/sys/fs/cgroup/memory/isola/abuse")), "its cgroup went with its QEMU");
    neighbourAndHostStillWork("a crashing QEMU");

    delete("abuse");
    assertEquals(List.of(), ContainerdProcess.mountsUnder(isolad.stateRoot.resolve("sandboxes/abuse")), "its mounts are gone");
  }

  private static io.isola.proto.v1.Sandbox awaitSandboxState(String id, io.isola.proto.v1.SandboxState state)
      throws InterruptedException {
    io.isola.proto.v1.Sandbox s = null;
    for (int i = 0; i < 100; i++) {
      s = sandboxes.getSandbox(SandboxRef.newBuilder().setId(id).build());
      if (s.getState() == state) {
        return s;
      }
      TimeUnit.MILLISECONDS.sleep(100);
    }
    throw new AssertionError("sandbox " + id + " did not become " + state + ": " + s);
  }

  private static void awaitEvent(Event.Type type, String containerId) throws InterruptedException {
    for (int i = 0; i < 100; i++) {
      if (events.stream().anyMatch(e -> e.getType() == type && e.getContainerId().equals(containerId))) {
        return;
      }
      TimeUnit.MILLISECONDS.sleep(100);
    }
    throw new AssertionError("no " + type + " event for " + containerId + ": " + events);
  }

  // ------------------------------------------------------------------------------------- tenants

  @Test
  void anotherTenantReachesNothingOfOurs() throws Exception {
    start("neighbour", "secret", Resources.getDefaultInstance(), "echo secret; sleep 600");
    Path classes = Path.of(CrossTenantProbe.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    String classpath = String.join(":", classes.toString(), IsolaProcess.PROJECT.resolve("vmm/target/isola-vmm.jar").toString(),
        IsolaProcess.PROJECT.resolve("vmm/target/lib/*").toString());
    Process probe = new ProcessBuilder("setpriv", "--reuid=1000", "--regid=1000", "--clear-groups",
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", classpath,
        CrossTenantProbe.class.getName(), isolad.socket.toString(), "neighbour", "secret")
        .redirectErrorStream(true).start();
    StringBuilder output = new StringBuilder();
    var reader = new java.io.BufferedReader(new java.io.InputStreamReader(probe.getInputStream(), StandardCharsets.UTF_8));
    for (String line = reader.readLine(); line != null && !line.equals("ready-for-events"); line = reader.readLine()) {
      output.append(line).append('\n');
    }
    neighbourAndHostStillWork("the other tenant's attempts"); // events in root's sandbox meanwhile
    probe.getOutputStream().write('\n');
    probe.getOutputStream().close();
    output.append(new String(probe.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    String report = output.toString();
    assertTrue(probe.waitFor(120, TimeUnit.SECONDS));
    assertEquals(0, probe.exitValue(), report);
    List<String> lines = report.lines().filter(l -> l.contains("=")).toList();
    assertTrue(lines.size() >= 20, "every method was tried: " + report);
    for (String line : lines) {
      String verdict = line.substring(line.indexOf('=') + 1);
      if (line.startsWith("create-in-sandbox")) {
        assertNotEquals("SUCCEEDED", verdict, line);
      } else if (line.startsWith("path-like")) {
        assertEquals("INVALID_ARGUMENT", verdict, line);
      } else if (line.startsWith("events-seen")) {
        assertEquals("0", verdict, "alice sees none of root's events: " + line);
      } else if (line.startsWith("list")) {
        assertEquals("0", verdict, "alice lists nothing of root's: " + line);
      } else {
        assertEquals("NOT_FOUND", verdict, line);
      }
    }
    assertEquals("RUNNING", containers.getContainer(ContainerRef.newBuilder().setId("secret").build()).getState().name()
        .replace("CONTAINER_", ""), "root's container is untouched");
    containers.signal(io.isola.proto.v1.SignalRequest.newBuilder().setProcess(ProcessRef.newBuilder().setContainerId("secret")).setSignal(9).build());
  }

  // ------------------------------------------------------------------------------------- helpers

  private static ProcessHandle qemuOf(String sandboxId) {
    return IsolaProcess.qemuProcessesUnder(dir).stream()
        .filter(p -> p.info().commandLine().orElse("").contains("-name isola-" + sandboxId + ","))
        .findFirst().orElseThrow(() -> new AssertionError("no QEMU for " + sandboxId));
  }

  private static Map<String, String> status(long pid) throws IOException {
    return Files.readAllLines(Path.of("/proc", Long.toString(pid), "status")).stream()
        .filter(l -> l.indexOf(':') > 0)
        .collect(Collectors.toMap(l -> l.substring(0, l.indexOf(':')), l -> l.substring(l.indexOf(':') + 1).strip(),
            (x, y) -> x));
  }

  private static long uidOf(long pid) {
    try {
      return ((Number) Files.getAttribute(Path.of("/proc", Long.toString(pid)), "unix:uid")).longValue();
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  private static Set<String> list(Path directory) throws IOException {
    try (Stream<Path> s = Files.list(directory)) {
      return s.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
    }
  }

  static List<String> loopDevicesUnder(Path root) throws Exception {
    Process p = new ProcessBuilder("losetup", "-a").start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor(10, TimeUnit.SECONDS);
    List<String> found = new ArrayList<>();
    out.lines().filter(l -> l.contains(root.toString())).forEach(found::add);
    return found;
  }
}
