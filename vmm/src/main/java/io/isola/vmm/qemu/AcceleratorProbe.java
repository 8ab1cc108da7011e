package io.isola.vmm.qemu;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Decides between KVM and TCG. A /dev/kvm that opens is no proof: on nested hosts a guest can
 * hang early in boot. So KVM is chosen only if a real guest (the catalog's kernel and initramfs,
 * told to power off at init) boots and powers off under it within a deadline. The verdict is
 * cached per host kernel and QEMU binary, because the probe costs up to the deadline.
 */
public final class AcceleratorProbe {
  private static final Duration DEADLINE = Duration.ofSeconds(10);

  private final Path qemuBinary;
  private final Path cacheFile;

  /** A probe whose verdict is cached in the runtime's state root. */
  public static AcceleratorProbe cachedUnder(Path qemuBinary, Path stateRoot) {
    return new AcceleratorProbe(qemuBinary, stateRoot.resolve("accelerator"));
  }

  public AcceleratorProbe(Path qemuBinary, Path cacheFile) {
    this.qemuBinary = qemuBinary;
    this.cacheFile = cacheFile;
  }

  /** The verdict and why, e.g. "KVM does not work here: the probe guest did not power off within 10 s". */
  public record Verdict(Accelerator accelerator, String reason) {}

  public Verdict decide(Path kernel, Path initrd) {
    String key = hostKey();
    try {
      List<String> cached = Files.readAllLines(cacheFile, StandardCharsets.UTF_8);
      if (cached.size() == 3 && cached.get(0).equals(key)) {
        return new Verdict(Accelerator.valueOf(cached.get(1)), cached.get(2));
      }
    } catch (IOException | IllegalArgumentException e) {
      // no usable cached verdict: probe
    }
    Verdict verdict = probe(kernel, initrd);
    if (Thread.currentThread().isInterrupted()) {
      return verdict; // an interrupted probe proves nothing: do not remember it
    }
    try {
      Files.createDirectories(cacheFile.getParent());
      Path tmp = Files.createTempFile(cacheFile.getParent(), ".accel", "");
      Files.writeString(tmp, key + "\n" + verdict.accelerator() + "\n" + verdict.reason() + "\n");
      Files.move(tmp, cacheFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      // probing again next time is slow but correct
    }
    return verdict;
  }

  private Verdict probe(Path kernel, Path initrd) {
    File kvm = new File("/dev/kvm");
    if (!kvm.exists()) {
      return new Verdict(Accelerator.TCG, "/dev/kvm does not exist");
    }
    if (!kvm.canRead() || !kvm.canWrite()) {
      return new Verdict(Accelerator.TCG, "/dev/kvm is not accessible to this user");
    }
    List<String> argv = new QemuCommandLine(qemuBinary, Accelerator.KVM)
        .boot(kernel, initrd, "console=none quiet panic=-1 isola.poweroff_at_init", 1, 128);
    Process process = null;
    try {
      process = new ProcessBuilder(argv).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      if (!process.waitFor(DEADLINE.toMillis(), TimeUnit.MILLISECONDS)) {
        return new Verdict(Accelerator.TCG, "KVM does not work here: a probe guest did not power off within "
            + DEADLINE.toSeconds() + " s (nested virtualisation that hangs)");
      }
      if (process.exitValue() != 0) {
        return new Verdict(Accelerator.TCG, "KVM does not work here: the probe guest failed (QEMU status "
            + process.exitValue() + ")");
      }
      return new Verdict(Accelerator.KVM, "a probe guest booted under KVM");
    } catch (IOException e) {
      return new Verdict(Accelerator.TCG, "cannot run the KVM probe: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Verdict(Accelerator.TCG, "KVM probe interrupted");
    } finally {
      if (process != null && process.isAlive()) {
        process.destroyForcibly();
      }
    }
  }

  /** What the verdict depends on: the host kernel and the QEMU binary. */
  private String hostKey() {
    String release = System.getProperty("os.version");
    File qemu = qemuBinary.toFile();
    return release + " " + qemu.getAbsolutePath() + " " + qemu.length() + " " + qemu.lastModified();
  }
}
