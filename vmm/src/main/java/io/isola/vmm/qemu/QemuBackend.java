package io.isola.vmm.qemu;

import io.isola.vmm.hypervisor.Hypervisor;
import io.isola.vmm.hypervisor.Vm;
import io.isola.vmm.hypervisor.VmSpec;
import io.isola.vmm.jail.Jail;
import io.isola.vmm.jail.Jailer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Runs each sandbox VM as a QEMU process driven over QMP. */
public final class QemuBackend implements Hypervisor {
  private static final Duration CONTROL_DEADLINE = Duration.ofSeconds(15);

  private final Path qemuBinary;
  private final Accelerator accelerator;
  private final Jailer jailer; // null: QEMU runs as the supervisor's user (development only)

  /** Unconfined QEMU: benchmarks' floors and hosts where the jail is disabled. */
  public QemuBackend(Path qemuBinary, Accelerator accelerator) {
    this(qemuBinary, accelerator, null);
  }

  public QemuBackend(Path qemuBinary, Accelerator accelerator, Jailer jailer) {
    this.qemuBinary = qemuBinary;
    this.accelerator = accelerator;
    this.jailer = jailer;
  }

  static Path qemuLog(VmSpec spec) {
    return spec.runDirectory().resolve("qemu.log");
  }

  @Override
  public Vm launch(VmSpec spec) throws IOException {
    Jail jail = jailer == null ? null : jailer.prepare(spec);
    try {
      return start(spec, jail);
    } catch (IOException | RuntimeException e) {
      if (jail != null) {
        jail.release();
      }
      throw e;
    }
  }

  private List<String> command(VmSpec spec, Jail jail) {
    List<String> qemu = new QemuCommandLine(qemuBinary, accelerator).build(spec);
    if (jail != null) {
      // The jailer joins the cgroup and network namespace, starts a session, builds the mount
      // namespace, drops to the sandbox's uid and execs QEMU (so the pid stays QEMU's).
      return jail.command(qemu, accelerator == Accelerator.KVM);
    }
    List<String> argv = new ArrayList<>();
    // Its own session: signals to the supervisor's process group (a terminal's Ctrl-C) never
    // reach it, and it outlives a supervisor that dies (the next one adopts it).
    argv.add("setsid");
    if (spec.networkNamespace() != null) {
      // QEMU opens its taps by name, which resolves in its own network namespace: it runs in
      // the sandbox's (nsenter execs it, so the pid stays QEMU's).
      argv.add("nsenter");
      argv.add("--net=" + spec.networkNamespace());
    }
    argv.addAll(qemu);
    return argv;
  }

  private Vm start(VmSpec spec, Jail jail) throws IOException {
    List<String> argv = command(spec, jail);
    ProcessBuilder builder = new ProcessBuilder(argv)
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
        .redirectErrorStream(true)
        .redirectOutput(qemuLog(spec).toFile());
    // A clean environment: nothing of the caller's leaks into the hypervisor process.
    builder.environment().clear();
    builder.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    Process process;
    try {
      process = builder.start();
    } catch (IOException e) {
      throw new IOException("cannot start " + qemuBinary + " (install qemu-system-x86: make setup): " + e.getMessage(), e);
    }
    QemuVm vm = new QemuVm(spec, process, jail);
    try {
      vm.attachQmp(connectControl(spec, process));
      if (jail != null) {
        jail.sealRunDirectory();
      }
      return vm;
    } catch (IOException | RuntimeException e) {
      vm.close();
      throw e;
    }
  }

  /** Waits for QEMU to create its QMP socket, then connects; fails fast if QEMU died. */
  private QmpClient connectControl(VmSpec spec, Process process) throws IOException {
    long deadline = System.nanoTime() + CONTROL_DEADLINE.toNanos();
    IOException last = null;
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        String log = QemuVm.tail(qemuLog(spec), 2048).map(String::strip).orElse("(no output)");
        throw new IOException("QEMU exited with status " + process.exitValue() + " before the VM started: " + log);
      }
      if (Files.exists(spec.controlSocket())) {
        try {
          return QmpClient.connect(spec.controlSocket(), event -> { }, Duration.ofSeconds(5));
        } catch (IOException e) {
          last = e;
        }
      }
      sleep(5);
    }
    throw new IOException("QEMU's control socket did not come up within " + CONTROL_DEADLINE.toSeconds() + " s"
        + (last == null ? "" : ": " + last.getMessage()));
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Takes over a QEMU that a previous supervisor started: the caller has checked that the pid
   * is still that QEMU (pid plus start time). Reconnects QMP.
   */
  @Override
  public Vm adopt(VmSpec spec, long pid) throws IOException {
    ProcessHandle handle = ProcessHandle.of(pid)
        .orElseThrow(() -> new IOException("QEMU pid " + pid + " is gone"));
    QemuVm vm = new QemuVm(spec, handle, jailer == null ? null : jailer.adopt(spec, pid));
    try {
      vm.attachQmp(QmpClient.connect(spec.controlSocket(), event -> { }, Duration.ofSeconds(5)));
      return vm;
    } catch (IOException e) {
      vm.close();
      throw e;
    }
  }

  @Override
  public String describe() {
    return "QEMU " + qemuBinary + " (" + accelerator + (jailer == null ? ", unconfined" : ", jailed") + ")";
  }
}
