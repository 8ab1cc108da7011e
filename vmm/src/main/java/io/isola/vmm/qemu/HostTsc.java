package io.isola.vmm.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * The host's TSC frequency. Under TCG the guest's TSC ticks at the host's rate, but a microvm
 * guest has no HPET, PM timer or PIT port to calibrate it against and hangs early in boot;
 * telling the kernel the rate (tsc_early_khz) fixes that. x86 Linux reports bogomips as twice
 * the TSC MHz (loops calibrated against the TSC), so kHz = bogomips × 500.
 */
final class HostTsc {
  private HostTsc() {}

  static OptionalLong khz() {
    return khz(Path.of("/proc/cpuinfo"));
  }

  static OptionalLong khz(Path cpuinfo) {
    try {
      for (String line : Files.readAllLines(cpuinfo)) {
        if (line.startsWith("bogomips")) {
          double bogomips = Double.parseDouble(line.substring(line.indexOf(':') + 1).trim());
          long khz = Math.round(bogomips * 500);
          return khz > 0 ? OptionalLong.of(khz) : OptionalLong.empty();
        }
      }
    } catch (IOException | NumberFormatException | StringIndexOutOfBoundsException e) {
      // fall through: unknown
    }
    return OptionalLong.empty();
  }
}
