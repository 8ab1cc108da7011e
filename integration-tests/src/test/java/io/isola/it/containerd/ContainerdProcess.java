package io.isola.it.containerd;

import io.isola.it.StreamDrain;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A private containerd 1.6 ({@code /usr/bin/containerd}) for one test: its config, root, state,
 * socket and log all live in a short directory {@code /tmp/ctdNNNN}, and its PATH starts with
 * {@code <dir>/bin}, which holds a symlink {@code containerd-shim-isola-v2 -> <PROJECT>/bin/containerd-shim-isola-v2}
 * so that {@code --runtime io.containerd.isola.v2} resolves to the project's shim. The shim inherits
 * containerd's environment, so extra entries given to the constructor (e.g. {@code ISOLA_SOCKET}) reach it.
 *
 * <p>{@link #close()} removes every task and container of the namespace, stops containerd, kills
 * shim processes it left (only those whose command line names this containerd's socket), lazily
 * unmounts whatever is still mounted under the directory, and deletes the directory.
 */
public final class ContainerdProcess implements AutoCloseable {
  public static final Path PROJECT =
      Path.of(System.getProperty("isola.root", "..")).toAbsolutePath().normalize();
  /** The OCI layout tar that {@code make demo-image} builds next to {@code build/images/demo-oci}. */
  public static final Path DEMO_IMAGE_TAR = Path.of(System.getProperty("isola.demoImageTar",
      System.getProperty("isola.demoImage", PROJECT.resolve("build/images/demo-oci").toString()) + ".tar"));
  /** The name the demo image's index.json annotation gives it. */
  public static final String DEMO_IMAGE_REF = "docker.io/library/isola-demo:latest";
  public static final String NAMESPACE = "isola-it";
  public static final String CONTAINERD = "/usr/bin/containerd";
  public static final String CTR = "/usr/bin/ctr";
  public static final String SHIM_NAME = "containerd-shim-isola-v2";
  public static final String RUNTIME = "io.containerd.isola.v2";
  /** Where containerd 1.6 puts shim sockets, whatever its state directory. */
  public static final Path SHIM_SOCKET_DIR = Path.of("/run/containerd/s");

  private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(120);

  public final Path dir;
  public final Path root;
  public final Path state;
  public final Path bin;
  public final Path socket;
  public final Path config;
  public final Path log;
  private final Map<String, String> env;
  private final Set<String> shimSocketsBefore;
  private final List<Running> running = new CopyOnWriteArrayList<>();
  private Process process;
  private boolean closed;

  /** Starts containerd with no extra environment. */
  public ContainerdProcess() throws Exception {
    this(Map.of());
  }

  /**
   * Creates the directory, writes the config, starts containerd with {@code extraEnv} added to its
   * environment and waits (at most 60 s) until {@code ctr version} answers.
   */
  public ContainerdProcess(Map<String, String> extraEnv) throws Exception {
    this.dir = Files.createTempDirectory(Path.of("/tmp"), "ctd");
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
    this.root = dir.resolve("root");
    this.state = dir.resolve("state");
    this.bin = Files.createDirectories(dir.resolve("bin"));
    this.socket = dir.resolve("c.sock");
    this.config = dir.resolve("config.toml");
    this.log = dir.resolve("containerd.log");
    Files.createSymbolicLink(bin.resolve(SHIM_NAME), PROJECT.resolve("bin").resolve(SHIM_NAME));
    Files.writeString(config, String.join("\n",
        "version = 2",
        "root = \"" + root + "\"",
        "state = \"" + state + "\"",
        "[grpc]",
        "  address = \"" + socket + "\"",
        "[ttrpc]",
        "  address = \"" + socket + ".ttrpc\"",
        "[debug]",
        "  level = \"debug\"",
        "[plugins]",
        "  [plugins.\"io.containerd.internal.v1.opt\"]",
        "    path = \"" + dir.resolve("opt") + "\"",
        ""));
    this.shimSocketsBefore = new HashSet<>(listNames(SHIM_SOCKET_DIR));

    Map<String, String> environment = new LinkedHashMap<>(System.getenv());
    String path = environment.getOrDefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    environment.put("PATH", bin + ":" + path);
    environment.putAll(extraEnv);
    this.env = Map.copyOf(environment);

    ProcessBuilder builder = new ProcessBuilder(CONTAINERD, "--config", config.toString());
    builder.environment().clear();
    builder.environment().putAll(env);
    builder.directory(dir.toFile());
    builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    builder.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    try {
      process = builder.start();
      awaitReady(Duration.ofSeconds(60));
    } catch (Throwable e) {
      try {
        close();
      } catch (Exception suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  private void awaitReady(Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    Result last = null;
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new AssertionError("containerd exited with " + process.exitValue() + " before answering; log tail:\n"
            + logTail(60));
      }
      if (Files.exists(socket)) {
        last = run(Duration.ofSeconds(10), null, CTR, "--address", socket.toString(), "version");
        if (last.exitCode() == 0 && last.stdout().contains("Server:")) {
          return;
        }
      }
      TimeUnit.MILLISECONDS.sleep(100);
    }
    throw new AssertionError("containerd did not answer `ctr version` within " + timeout.toSeconds() + " s"
        + (last == null ? " (socket " + socket + " never appeared)" : "; last attempt: " + last)
        + "\ncontainerd log tail:\n" + logTail(60));
  }

  /** The environment containerd (and so every shim it starts) runs with. */
  public Map<String, String> environment() {
    return env;
  }

  /** {@code ctr --address <sock> -n isola-it <args>}, bounded by 120 s. */
  public Result ctr(String... args) throws Exception {
    return ctr(DEFAULT_TIMEOUT, args);
  }

  /** {@code ctr --address <sock> -n isola-it <args>}; on timeout the ctr process is killed and an AssertionError thrown. */
  public Result ctr(Duration timeout, String... args) throws Exception {
    return run(timeout, null, ctrArgv(args).toArray(String[]::new));
  }

  /**
   * {@code ctr} in another containerd namespace. The harness cleans up only {@link #NAMESPACE}: a
   * test that uses another one removes what it made there itself.
   */
  public Result ctrIn(String namespace, Duration timeout, String... args) throws Exception {
    List<String> argv = new ArrayList<>(List.of(CTR, "--address", socket.toString(), "-n", namespace));
    argv.addAll(List.of(args));
    return run(timeout, null, argv.toArray(String[]::new));
  }

  /** As {@link #ctr(Duration, String...)} with {@code stdin} fed to ctr (then closed). */
  public Result ctrWithInput(Duration timeout, byte[] stdin, String... args) throws Exception {
    return run(timeout, stdin, ctrArgv(args).toArray(String[]::new));
  }

  /**
   * A long-running ctr (e.g. {@code events}, or {@code run} without {@code -d}); its output is
   * collected as it comes. It is killed by {@link Running#close()} or at the latest by {@link #close()}.
   */
  public Running ctrProcess(String... args) throws IOException {
    Running r = new Running(new ProcessBuilder(ctrArgv(args)).start());
    running.add(r);
    return r;
  }

  /**
   * {@code ctr events}, returned only once it is subscribed: it tags the demo image with a probe name
   * (an /images/create event) and removes the tag again until the event shows up (at most 30 s), so no later
   * event is missed. Lines look like {@code <time> isola-it /tasks/exit {"container_id":...}}.
   */
  public Running events() throws Exception {
    Running events = ctrProcess("events");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    for (int i = 0; System.nanoTime() < deadline; i++) {
      String probe = "isola-it.local/events-probe:" + i;
      Result tag = ctr(Duration.ofSeconds(30), "images", "tag", "--force", DEMO_IMAGE_REF, probe);
      if (tag.exitCode() != 0) {
        events.close();
        throw new AssertionError("events probe needs the demo image imported first (importDemoImage()): " + tag);
      }
      try {
        events.awaitStdout(probe, Duration.ofMillis(500));
        ctr(Duration.ofSeconds(30), "images", "rm", probe);
        return events;
      } catch (AssertionError notYet) {
        ctr(Duration.ofSeconds(30), "images", "rm", probe);
      }
    }
    events.close();
    throw new AssertionError("ctr events did not report the probe image within 30 s\n--- stdout\n"
        + events.stdoutSoFar() + "\n--- stderr\n" + events.stderrSoFar() + "\n--- containerd log tail\n" + logTail(40));
  }

  /**
   * ctr under a pseudo-terminal: {@code script -qec "<ctr ...>" /dev/null}, for {@code ctr run -t}
   * and {@code ctr task exec -t}. The exit code is ctr's (script -e). {@code stdin} (may be null)
   * is written to script, which passes it to the terminal; output contains the terminal's CRLFs.
   */
  public Result ctrInTerminal(Duration timeout, byte[] stdin, String... args) throws Exception {
    return ctrInTerminal(timeout, stdin, 0, 0, args);
  }

  /** As above, on a terminal of {@code rows} x {@code columns} (0: script's default). */
  public Result ctrInTerminal(Duration timeout, byte[] stdin, int rows, int columns, String... args)
      throws Exception {
    String command = ctrArgv(args).stream().map(ContainerdProcess::shellQuote).collect(Collectors.joining(" "));
    if (rows > 0 && columns > 0) {
      command = "stty rows " + rows + " cols " + columns + "; " + command;
    }
    return run(timeout, stdin, "script", "-qec", command, "/dev/null");
  }

  private List<String> ctrArgv(String... args) {
    List<String> argv = new ArrayList<>(List.of(CTR, "--address", socket.toString(), "-n", NAMESPACE));
    argv.addAll(List.of(args));
    return argv;
  }

  /** {@code ctr images import <DEMO_IMAGE_TAR>}; fails clearly when the tar is missing or import fails. */
  public Result importDemoImage() throws Exception {
    if (!Files.isRegularFile(DEMO_IMAGE_TAR)) {
      throw new AssertionError("demo image tar " + DEMO_IMAGE_TAR + " is missing: run `make demo-image`");
    }
    Result r = ctr("images", "import", DEMO_IMAGE_TAR.toString());
    if (r.exitCode() != 0 || !r.stdout().contains(DEMO_IMAGE_REF)) {
      throw new AssertionError("ctr images import " + DEMO_IMAGE_TAR + " failed: " + r + "\ncontainerd log tail:\n"
          + logTail(40));
    }
    return r;
  }

  /** The last {@code lines} lines of containerd's log (which includes what shims write to their log FIFO). */
  public String logTail(int lines) {
    try {
      List<String> all = Files.readAllLines(log, StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(no containerd log: " + e + ")";
    }
  }

  /** The whole containerd log. */
  public String log() throws IOException {
    return Files.readString(log);
  }

  /** Mount points at or under {@code path}, from /proc/self/mountinfo, deepest first. */
  public static List<Path> mountsUnder(Path path) throws IOException {
    return io.isola.vmm.volume.MountTable.mountPointsUnder(path);
  }

  /** Processes whose command line has {@code -address <this containerd's socket>}: the shims it started. */
  public List<ProcessHandle> shimProcesses() {
    long self = process == null ? -1 : process.pid();
    // containerd starts shims with "-address <its gRPC socket>" (one dash; ctr uses --address).
    String marker = " -address " + socket;
    return ProcessHandle.allProcesses()
        .filter(p -> p.pid() != self)
        .filter(p -> p.info().commandLine().map(c -> c.contains(marker)).orElse(false))
        .toList();
  }

  /**
   * Whether {@code p} exists and is not a zombie. (Shims are reparented to pid 1, which reaps them
   * when it gets to it; ProcessHandle.isAlive() is true for a zombie. A zombie's cmdline is empty,
   * so {@link #shimProcesses()} never lists one.)
   */
  public static boolean isRunning(ProcessHandle p) {
    try {
      String stat = Files.readString(Path.of("/proc/" + p.pid() + "/stat"));
      char state = stat.charAt(stat.lastIndexOf(')') + 2);
      return state != 'Z' && state != 'X';
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** Entries of /run/containerd/s that were not there when this containerd started. */
  public List<String> newShimSockets() {
    return listNames(SHIM_SOCKET_DIR).stream().filter(n -> !shimSocketsBefore.contains(n)).toList();
  }

  /** What {@link #close()} could not clean up (reported, not deleted), filled in by close(). */
  public final List<String> leftovers = new CopyOnWriteArrayList<>();

  @Override
  public void close() throws Exception {
    if (closed) {
      return;
    }
    closed = true;
    List<String> problems = new ArrayList<>();
    for (Running r : running) {
      r.close();
    }
    if (process != null && process.isAlive()) {
      try {
        removeAllTasksAndContainers(problems);
      } catch (Exception | AssertionError e) {
        problems.add("removing tasks/containers: " + e);
      }
      process.destroy();
      if (!process.waitFor(20, TimeUnit.SECONDS)) {
        problems.add("containerd ignored SIGTERM for 20 s; SIGKILL");
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    }
    // A shim exits on its own once its last task is deleted and containerd is gone; give it 10 s.
    long shimDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!shimProcesses().isEmpty() && System.nanoTime() < shimDeadline) {
      TimeUnit.MILLISECONDS.sleep(100);
    }
    for (ProcessHandle shim : shimProcesses()) {
      problems.add("shim process still running 10 s after containerd stopped, killed: " + shim.pid() + " "
          + shim.info().commandLine().orElse("?"));
      shim.destroyForcibly();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (isRunning(shim) && System.nanoTime() < deadline) {
        TimeUnit.MILLISECONDS.sleep(50);
      }
    }
    for (Path mount : mountsUnder(dir)) {
      Result r = run(Duration.ofSeconds(30), null, "umount", "-l", mount.toString());
      if (r.exitCode() != 0) {
        problems.add("umount -l " + mount + ": " + r.stderr().strip());
      }
    }
    List<Path> stillMounted = mountsUnder(dir);
    if (stillMounted.isEmpty()) {
      deleteTree(dir);
    } else {
      problems.add("still mounted, directory kept: " + stillMounted);
    }
    for (String s : newShimSockets()) {
      leftovers.add(SHIM_SOCKET_DIR.resolve(s).toString());
    }
    leftovers.addAll(problems);
  }

  private void removeAllTasksAndContainers(List<String> problems) throws Exception {
    Result tasks = ctr(Duration.ofSeconds(30), "task", "ls", "-q");
    for (String id : lines(tasks.stdout())) {
      ctr(Duration.ofSeconds(30), "task", "kill", "-a", "-s", "KILL", id);
      Result rm = ctr(Duration.ofSeconds(60), "task", "rm", "-f", id);
      if (rm.exitCode() != 0) {
        problems.add("ctr task rm -f " + id + ": " + rm.stderr().strip());
      }
    }
    Result containers = ctr(Duration.ofSeconds(30), "containers", "ls", "-q");
    for (String id : lines(containers.stdout())) {
      Result rm = ctr(Duration.ofSeconds(60), "containers", "rm", id);
      if (rm.exitCode() != 0) {
        problems.add("ctr containers rm " + id + ": " + rm.stderr().strip());
      }
    }
  }

  private static List<String> lines(String text) {
    return text.lines().map(String::strip).filter(s -> !s.isEmpty()).toList();
  }

  private static void deleteTree(Path top) throws IOException {
    if (!Files.exists(top, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    // Files.walk does not follow symlinks; the shim symlink itself is deleted, never its target.
    try (Stream<Path> paths = Files.walk(top)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  private static List<String> listNames(Path directory) {
    try (Stream<Path> s = Files.list(directory)) {
      return s.map(p -> p.getFileName().toString()).toList();
    } catch (IOException e) {
      return List.of();
    }
  }

  static String shellQuote(String s) {
    if (!s.isEmpty() && s.chars().allMatch(c -> Character.isLetterOrDigit(c) || "-_./=:@%+,".indexOf(c) >= 0)) {
      return s;
    }
    return "'" + s.replace("'", "'\\''") + "'";
  }

  private Result run(Duration timeout, byte[] stdin, String... argv) throws Exception {
    Process p = new ProcessBuilder(argv).start();
    CompletableFuture<byte[]> out = StreamDrain.drain(p.getInputStream(), new ByteArrayOutputStream(), "ctr-drain");
    CompletableFuture<byte[]> err = StreamDrain.drain(p.getErrorStream(), new ByteArrayOutputStream(), "ctr-drain");
    try (OutputStream in = p.getOutputStream()) {
      if (stdin != null) {
        in.write(stdin);
      }
    } catch (IOException ignored) {
      // the command exited without reading its input
    }
    if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      // ctr is a Go program: SIGQUIT makes it print every goroutine's stack, which shows where it hangs
      new ProcessBuilder("kill", "-QUIT", Long.toString(p.pid())).start().waitFor(5, TimeUnit.SECONDS);
      p.waitFor(3, TimeUnit.SECONDS);
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
      throw new AssertionError(String.join(" ", argv) + " did not finish within " + timeout.toSeconds() + " s"
          + "\n--- stdout so far\n" + new String(getQuietly(out), StandardCharsets.UTF_8)
          + "\n--- stderr so far\n" + new String(getQuietly(err), StandardCharsets.UTF_8)
          + "\n--- containerd log tail\n" + logTail(40));
    }
    return new Result(p.exitValue(), new String(out.get(30, TimeUnit.SECONDS), StandardCharsets.UTF_8),
        new String(err.get(30, TimeUnit.SECONDS), StandardCharsets.UTF_8));
  }

  private static byte[] getQuietly(CompletableFuture<byte[]> f) {
    try {
      return f.get(2, TimeUnit.SECONDS);
    } catch (Exception e) {
      return ("(" + e + ")").getBytes(StandardCharsets.UTF_8);
    }
  }

  /** A ctr command's outcome. */
  public record Result(int exitCode, String stdout, String stderr) {
    @Override
    public String toString() {
      return "exit " + exitCode + "\n--- stdout\n" + stdout + "\n--- stderr\n" + stderr;
    }
  }

  /** A long-running ctr process whose output is collected while it runs. */
  public final class Running implements AutoCloseable {
    private final Process process;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private final CompletableFuture<byte[]> outDone;
    private final CompletableFuture<byte[]> errDone;

    Running(Process process) {
      this.process = process;
      this.outDone = StreamDrain.drain(process.getInputStream(), out, "ctr-drain");
      this.errDone = StreamDrain.drain(process.getErrorStream(), err, "ctr-drain");
    }

    public Process process() {
      return process;
    }

    public String stdoutSoFar() {
      synchronized (out) {
        return out.toString(StandardCharsets.UTF_8);
      }
    }

    public String stderrSoFar() {
      synchronized (err) {
        return err.toString(StandardCharsets.UTF_8);
      }
    }

    /** Waits until stdout contains {@code text}; AssertionError (with output and containerd log) after {@code timeout}. */
    public String awaitStdout(String text, Duration timeout) throws InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < deadline) {
        String sofar = stdoutSoFar();
        if (sofar.contains(text)) {
          return sofar;
        }
        TimeUnit.MILLISECONDS.sleep(50);
      }
      throw new AssertionError("ctr output did not contain \"" + text + "\" within " + timeout.toSeconds() + " s"
          + (process.isAlive() ? "" : " (ctr exited " + process.exitValue() + ")")
          + "\n--- stdout\n" + stdoutSoFar() + "\n--- stderr\n" + stderrSoFar()
          + "\n--- containerd log tail\n" + logTail(40));
    }

    /** Waits for ctr to exit on its own; kills it and throws AssertionError after {@code timeout}. */
    public Result await(Duration timeout) throws Exception {
      process.getOutputStream().close();
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        close();
        throw new AssertionError("ctr did not exit within " + timeout.toSeconds() + " s"
            + "\n--- stdout\n" + stdoutSoFar() + "\n--- stderr\n" + stderrSoFar()
            + "\n--- containerd log tail\n" + logTail(40));
      }
      try {
        return new Result(process.exitValue(), new String(outDone.get(30, TimeUnit.SECONDS), StandardCharsets.UTF_8),
            new String(errDone.get(30, TimeUnit.SECONDS), StandardCharsets.UTF_8));
      } catch (TimeoutException e) {
        return new Result(process.exitValue(), stdoutSoFar(), stderrSoFar());
      }
    }

    /** Kills ctr (SIGTERM, then SIGKILL after 5 s). */
    @Override
    public void close() throws InterruptedException {
      if (process.isAlive()) {
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          process.waitFor(5, TimeUnit.SECONDS);
        }
      }
      running.remove(this);
    }
  }
}
