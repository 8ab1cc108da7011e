package io.isola.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;

/** A real isolad (bin/isolad) with its roots, socket and config in a test's directory. */
public final class IsoladProcess implements AutoCloseable {
  final Path dir;
  final Path socket;
  final Path runRoot;
  final Path stateRoot;
  final Path config;
  private Process process;

  IsoladProcess(Path dir, String configToml) throws IOException {
    this.dir = dir;
    // uid 1000 clients must reach the socket: the directory holding it is world-searchable.
    Path sockets = Files.createDirectories(dir.resolve("sock"));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(sockets, PosixFilePermissions.fromString("rwxr-xr-x"));
    this.socket = sockets.resolve("isolad.sock");
    this.runRoot = dir.resolve("run");
    this.stateRoot = dir.resolve("state");
    this.config = dir.resolve("config.toml");
    Files.writeString(config, configToml);
  }

  IsoladProcess start() throws Exception {
    ProcessBuilder builder = new ProcessBuilder(IsolaProcess.PROJECT.resolve("bin/isolad").toString(),
        "--config", config.toString(), "--socket", socket.toString(), "--run-root", runRoot.toString(),
        "--state-root", stateRoot.toString(), "--shutdown-sandboxes",
        "--catalog", IsolaProcess.PROJECT.resolve("guest-image/out/catalog.json").toString());
    builder.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("isolad.log").toFile()));
    long logged = Files.exists(dir.resolve("isolad.log")) ? Files.size(dir.resolve("isolad.log")) : 0;
    process = builder.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new AssertionError("isolad exited: " + Files.readString(dir.resolve("isolad.log")));
      }
      if (Files.readString(dir.resolve("isolad.log")).substring((int) logged).contains("serving on")) {
        return this;
      }
      TimeUnit.MILLISECONDS.sleep(100);
    }
    throw new AssertionError("isolad did not start: " + Files.readString(dir.resolve("isolad.log")));
  }

  /** isolad's pid (bin/isolad execs the JVM). */
  long pid() {
    return process.pid();
  }

  void kill9() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  String log() throws IOException {
    return Files.readString(dir.resolve("isolad.log"));
  }

  @Override
  public void close() throws Exception {
    if (process != null && process.isAlive()) {
      process.destroy();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
  }
}
