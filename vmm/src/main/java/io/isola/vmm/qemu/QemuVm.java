package io.isola.vmm.qemu;

import com.google.common.util.concurrent.Uninterruptibles;
import io.isola.vmm.hypervisor.Vm;
import io.isola.vmm.hypervisor.VmSpec;
import io.isola.vmm.jail.Jail;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One QEMU process and its QMP connection. The process is either our child (we started it and
 * learn its exit status) or adopted after a supervisor restart (only its pid is known; its
 * exit status is then lost to us, and we say so).
 */
final class QemuVm implements Vm {
  private static final Logger LOG = Logger.getLogger(QemuVm.class.getName());
  private static final Duration QMP_TIMEOUT = Duration.ofSeconds(5);

  private final VmSpec spec;
  private final ProcessHandle process;
  private final CompletableFuture<VmExit> exit;
  private volatile QmpClient qmp;
  private volatile boolean stopRequested;
  private final Jail jail; // null when QEMU runs unconfined

  QemuVm(VmSpec spec, Process child, Jail jail) {
    this.spec = spec;
    this.process = child.toHandle();
    this.jail = jail;
    this.exit = child.onExit().thenApply(p -> released(describeExit(p)));
  }

  /** A QEMU that outlived the supervisor that started it. */
  QemuVm(VmSpec spec, ProcessHandle adopted, Jail jail) {
    this.spec = spec;
    this.process = adopted;
    this.jail = jail;
    this.exit = adopted.onExit().thenApply(h -> released(new VmExit(-1, stopRequested ? "stopped"
        : outOfMemory().orElse("QEMU exited (status unknown: it was adopted after a supervisor restart)"))));
  }

  /** Releases the jail (cgroup, uid, share mounts) before anyone waiting learns of the exit. */
  private VmExit released(VmExit vmExit) {
    if (jail != null) {
      jail.release();
    }
    return vmExit;
  }

  /** Why the kernel killed QEMU, if it was its cgroup's memory limit. */
  private Optional<String> outOfMemory() {
    if (jail != null && jail.cgroup().oomKilled()) {
      return Optional.of("QEMU went past its memory limit (guest memory " + spec.memoryMib()
          + " MiB plus the configured overhead) and the host killed it");
    }
    return Optional.empty();
  }

  @Override
  public void handOver(Path tree) throws IOException {
    if (jail != null) {
      jail.handOver(tree);
    }
  }

  @Override
  public OptionalLong confinedUid() {
    return jail == null ? OptionalLong.empty() : OptionalLong.of(jail.uid());
  }

  void attachQmp(QmpClient qmp) {
    this.qmp = qmp;
  }

  private VmExit describeExit(Process p) {
    int code = p.exitValue();
    String how;
    if (stopRequested) {
      how = "stopped";
    } else if (code == 0) {
      how = "guest powered off";
    } else if (code > 128) {
      how = outOfMemory().orElse("QEMU was killed by signal " + (code - 128));
    } else {
      how = "QEMU exited with status " + code + qemuLogTail().map(t -> ": " + t).orElse("");
    }
    return new VmExit(code, how);
  }

  @Override
  public VmSpec spec() {
    return spec;
  }

  @Override
  public long pid() {
    return process.pid();
  }

  @Override
  public CompletableFuture<VmExit> exit() {
    return exit;
  }

  @Override
  public void stop(Duration grace) {
    stopRequested = true;
    if (!process.isAlive()) {
      return;
    }
    QmpClient control = qmp;
    if (control != null) {
      try {
        control.execute("quit", null, QMP_TIMEOUT);
      } catch (IOException e) {
        LOG.log(Level.FINE, "QMP quit failed; killing QEMU", e);
      }
    }
    try {
      exit.get(grace.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      // still wait for the kill below: the exit releases the jail (cgroup, share mounts), and a
      // caller told "stopped" goes on to remove the sandbox's files
      killAndWait();
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      killAndWait();
    }
  }

  private void killAndWait() {
    process.destroyForcibly();
    try {
      Uninterruptibles.getUninterruptibly(exit, 10, TimeUnit.SECONDS);
    } catch (Exception ignored) {
      // reported by exit() to whoever waits on it
    }
  }

  @Override
  public Optional<String> consoleTail(int maxBytes) {
    return tail(spec.consoleLog(), maxBytes);
  }

  private Optional<String> qemuLogTail() {
    return tail(QemuBackend.qemuLog(spec), 2048).map(String::strip);
  }

  /** The end of a log file, with control characters escaped: the guest wrote the console. */
  static Optional<String> tail(Path file, int maxBytes) {
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
      long start = Math.max(0, raf.length() - maxBytes);
      byte[] bytes = new byte[(int) (raf.length() - start)];
      raf.seek(start);
      raf.readFully(bytes);
      StringBuilder text = new StringBuilder();
      for (char c : new String(bytes, StandardCharsets.UTF_8).toCharArray()) {
        text.append(c == '\n' || (c >= 0x20 && c != 0x7f) ? c : '?');
      }
      return text.length() == 0 ? Optional.empty() : Optional.of(text.toString());
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  @Override
  public void release() {
    QmpClient control = qmp;
    if (control != null) {
      control.close();
    }
  }

  @Override
  public void close() {
    stop(Duration.ofSeconds(2));
    QmpClient control = qmp;
    if (control != null) {
      control.close();
    }
    for (Path p : new Path[] {spec.agentSocket(), spec.controlSocket()}) {
      try {
        Files.deleteIfExists(p);
      } catch (IOException e) {
        LOG.log(Level.WARNING, "cannot remove " + p, e);
      }
    }
  }
}
