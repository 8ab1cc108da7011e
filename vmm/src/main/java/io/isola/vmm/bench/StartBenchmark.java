package io.isola.vmm.bench;

import io.isola.vmm.catalog.Catalog;
import io.isola.vmm.hypervisor.VmSpec;
import io.isola.vmm.qemu.Accelerator;
import io.isola.vmm.qemu.QemuCommandLine;
import io.isola.vmm.sandbox.GuestBoot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Cold start against its floor, measured side by side in one process: each round boots the
 * floor (the same QEMU command line isola uses, same kernel and initramfs, the agent powering
 * off at init) and then runs `bin/isola run --rm IMAGE -- true`. Prints each run, medians,
 * min/max, the ratio of medians and QEMU's peak RSS in both.
 *
 * <p>Usage: StartBenchmark ISOLA_LAUNCHER CATALOG IMAGE RUNS MEMORY_MIB
 */
public final class StartBenchmark {
  private StartBenchmark() {}

  public static void main(String[] args) throws Exception {
    measure(Path.of(args[0]), Catalog.load(Path.of(args[1])), args[2], Integer.parseInt(args[3]),
        Integer.parseInt(args[4]), args.length > 5 ? args[5] : null);
  }

  /** Medians, minima and maxima of the floor and of {@code isola run}, in ms. */
  public record Result(long floorMedian, long floorMin, long floorMax, long runMedian, long runMin, long runMax) {
    public double ratio() {
      return (double) runMedian / floorMedian;
    }
  }

  /**
   * Interleaved rounds of the floor and {@code isola run --rm IMAGE -- true} with guest kernel
   * {@code kernel} (null: the catalog's default); prints and returns them.
   */
  public static Result measure(Path launcher, Catalog catalog, String image, int runs, int memory, String kernel)
      throws Exception {
    Path work = Files.createTempDirectory("isola-bench");
    List<Long> floor = new ArrayList<>();
    List<Long> run = new ArrayList<>();
    long floorRss = 0;
    long runRss = 0;
    for (int i = 0; i < runs; i++) {
      Measurement f = floor(catalog, kernel, work.resolve("floor-" + i), memory);
      Measurement r = isolaRun(launcher, image, work, memory, kernel);
      floor.add(f.millis);
      run.add(r.millis);
      floorRss = Math.max(floorRss, f.peakRssKib);
      runRss = Math.max(runRss, r.peakRssKib);
      System.out.printf("round %d: floor %5d ms   isola run %5d ms%n", i + 1, f.millis, r.millis);
    }
    System.out.printf("%nfloor (QEMU boot to init and power-off): median %d ms (min %d, max %d)%n",
        median(floor), Collections.min(floor), Collections.max(floor));
    System.out.printf("isola run --rm IMAGE -- true:            median %d ms (min %d, max %d)%n",
        median(run), Collections.min(run), Collections.max(run));
    System.out.printf("ratio of medians (run / floor): %.2f%n", (double) median(run) / median(floor));
    System.out.printf("QEMU peak RSS: floor %d MiB, isola run %d MiB (guest memory %d MiB)%n",
        floorRss / 1024, runRss / 1024, memory);
    return new Result(median(floor), Collections.min(floor), Collections.max(floor), median(run),
        Collections.min(run), Collections.max(run));
  }

  private record Measurement(long millis, long peakRssKib) {}

  private static Measurement floor(Catalog catalog, String kernelName, Path dir, int memory) throws Exception {
    Files.createDirectories(dir);
    Catalog.Kernel kernel = catalog.kernel(kernelName);
    Catalog.BaseImage base = catalog.baseImageFor(kernel, null);
    Path share = Files.createDirectories(dir.resolve("share"));
    VmSpec spec = new VmSpec("floor", kernel.file(), base.file(), GuestBoot.KERNEL_ARGS + " isola.poweroff_at_init",
        1, memory, List.of(new VmSpec.Share("rootfs", share, false)), dir);
    List<String> argv = new QemuCommandLine(Path.of("/usr/bin/qemu-system-x86_64"), Accelerator.TCG).build(spec);
    long start = System.nanoTime();
    Process qemu = new ProcessBuilder(argv).redirectErrorStream(true)
        .redirectOutput(dir.resolve("qemu.log").toFile()).start();
    long rss = watchPeakRss(qemu.toHandle(), qemu);
    if (qemu.exitValue() != 0) {
      throw new IOException("floor QEMU failed: " + Files.readString(dir.resolve("qemu.log")));
    }
    return new Measurement((System.nanoTime() - start) / 1_000_000, rss);
  }

  private static Measurement isolaRun(Path launcher, String image, Path work, int memory, String kernel)
      throws Exception {
    List<String> argv = new ArrayList<>(List.of(launcher.toString(), "run", "--rm", "--memory",
        Integer.toString(memory)));
    if (kernel != null) {
      argv.addAll(List.of("--kernel", kernel));
    }
    argv.addAll(List.of(image, "--", "true"));
    ProcessBuilder builder = new ProcessBuilder(argv).redirectErrorStream(true)
        .redirectOutput(work.resolve("run.log").toFile());
    builder.environment().put("ISOLA_RUN_ROOT", work.resolve("run").toString());
    builder.environment().put("ISOLA_STATE_ROOT", work.resolve("state").toString());
    long start = System.nanoTime();
    Process isola = builder.start();
    long rss = 0;
    while (isola.isAlive()) {
      Optional<ProcessHandle> qemu = isola.descendants()
          .filter(p -> p.info().command().map(c -> c.contains("qemu-system")).orElse(false)).findFirst();
      if (qemu.isPresent()) {
        rss = Math.max(rss, watchPeakRss(qemu.get(), null));
      } else {
        TimeUnit.MILLISECONDS.sleep(5);
      }
    }
    long millis = (System.nanoTime() - start) / 1_000_000;
    if (isola.exitValue() != 0) {
      throw new IOException("isola run failed: " + Files.readString(work.resolve("run.log")));
    }
    return new Measurement(millis, rss);
  }

  /** Polls VmHWM (peak RSS) of a process until it exits; returns the last value read. */
  private static long watchPeakRss(ProcessHandle handle, Process process) throws Exception {
    long peak = 0;
    Path status = Path.of("/proc", Long.toString(handle.pid()), "status");
    while (handle.isAlive()) {
      try {
        for (String line : Files.readAllLines(status)) {
          if (line.startsWith("VmHWM:")) {
            peak = Math.max(peak, Long.parseLong(line.replaceAll("[^0-9]", "")));
          }
        }
      } catch (IOException | NumberFormatException e) {
        // exited between the check and the read
      }
      TimeUnit.MILLISECONDS.sleep(20);
    }
    if (process != null) {
      process.waitFor();
    }
    return peak;
  }

  private static long median(List<Long> values) {
    List<Long> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    return sorted.get(sorted.size() / 2);
  }
}
