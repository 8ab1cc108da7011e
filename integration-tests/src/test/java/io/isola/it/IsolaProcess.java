package io.isola.it;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs the real `bin/isola` launcher with its roots in a test's own directories. */
final class IsolaProcess {
  static final Path PROJECT = Path.of(System.getProperty("isola.root", "..")).toAbsolutePath().normalize();
  static final Path DEMO_IMAGE = Path.of(System.getProperty("isola.demoImage",
      PROJECT.resolve("build/images/demo-oci").toString()));

  final Process process;
  private final CompletableFuture<byte[]> stdout;
  private final CompletableFuture<byte[]> stderr;

  private final ByteArrayOutputStream stdoutSoFar = new ByteArrayOutputStream();

  private IsolaProcess(Process process) {
    this.process = process;
    this.stdout = StreamDrain.drain(process.getInputStream(), stdoutSoFar, "isola-drain");
    this.stderr = StreamDrain.drain(process.getErrorStream(), new ByteArrayOutputStream(), "isola-drain");
  }

  /** What the process has printed on stdout so far. */
  String stdoutSoFar() {
    synchronized (stdoutSoFar) {
      return stdoutSoFar.toString(StandardCharsets.UTF_8);
    }
  }

  static IsolaProcess start(Path runRoot, Path stateRoot, String... args) throws IOException {
    List<String> argv = new ArrayList<>();
    argv.add(PROJECT.resolve("bin/isola").toString());
    argv.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(argv);
    builder.environment().put("ISOLA_RUN_ROOT", runRoot.toString());
    builder.environment().put("ISOLA_STATE_ROOT", stateRoot.toString());
    builder.environment().put("ISOLA_CATALOG", PROJECT.resolve("guest-image/out/catalog.json").toString());
    return new IsolaProcess(builder.start());
  }

  /** Feeds {@code input} to stdin, then closes it. */
  IsolaProcess feed(byte[] input) throws IOException {
    try (var in = process.getOutputStream()) {
      in.write(input);
    }
    return this;
  }

  Result await(int seconds) throws Exception {
    process.getOutputStream().close();
    if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("isola did not finish within " + seconds + " s; stderr: "
          + new String(stderr.get(5, TimeUnit.SECONDS), StandardCharsets.UTF_8));
    }
    return new Result(process.exitValue(), stdout.get(30, TimeUnit.SECONDS), stderr.get(30, TimeUnit.SECONDS));
  }

  record Result(int exitCode, byte[] stdoutBytes, byte[] stderrBytes) {
    String stdout() {
      return new String(stdoutBytes, StandardCharsets.UTF_8);
    }

    String stderr() {
      return new String(stderrBytes, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
      return "exit " + exitCode + "\n--- stdout\n" + stdout() + "\n--- stderr\n" + stderr();
    }
  }

  /** Files and directories left under a root's sandboxes/ directory. */
  static List<Path> leftovers(Path root) throws IOException {
    Path sandboxes = root.resolve("sandboxes");
    if (!Files.exists(sandboxes)) {
      return List.of();
    }
    try (var entries = Files.list(sandboxes)) {
      return entries.toList();
    }
  }

  /** QEMU processes whose command line mentions {@code marker} (a test's own root). */
  static List<ProcessHandle> qemuProcessesUnder(Path marker) {
    return ProcessHandle.allProcesses()
        .filter(p -> p.info().commandLine().map(c -> c.contains("qemu-system") && c.contains(marker.toString())).orElse(false))
        .toList();
  }
}
