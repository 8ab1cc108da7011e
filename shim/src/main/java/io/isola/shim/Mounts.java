package io.isola.shim;

import io.isola.proto.containerd.types.Mount;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Mounts containerd's rootfs onto bundle/rootfs and takes it down again (mount(8), umount(8)). */
final class Mounts {
  private Mounts() {}

  static void mountAll(List<Mount> mounts, Path target) throws IOException {
    for (Mount m : mounts) {
      List<String> cmd = new ArrayList<>(List.of("mount", "-t", m.getType().isEmpty() ? "none" : m.getType()));
      List<String> options = new ArrayList<>(m.getOptionsList());
      if (m.getType().equals("bind") || options.contains("bind") || options.contains("rbind")) {
        cmd.set(2, "none");
      }
      if (!options.isEmpty()) {
        cmd.add("-o");
        cmd.add(String.join(",", options));
      }
      cmd.add(m.getSource().isEmpty() ? m.getType() : m.getSource());
      cmd.add(target.toString());
      run(cmd);
    }
  }

  /** Lazily unmounts everything stacked on {@code target}; quiet when nothing is mounted. */
  static void unmountAll(Path target) {
    for (int i = 0; i < 8 && isMountPoint(target); i++) {
      try {
        run(List.of("umount", "-l", target.toString()));
      } catch (IOException e) {
        return;
      }
    }
  }

  static boolean isMountPoint(Path target) {
    String wanted;
    try {
      wanted = target.toRealPath().toString();
    } catch (IOException e) {
      return false;
    }
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
        String[] f = line.split(" ");
        if (f.length > 4 && unescape(f[4]).equals(wanted)) {
          return true;
        }
      }
    } catch (IOException e) {
      return false;
    }
    return false;
  }

  private static String unescape(String s) {
    return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
  }

  private static void run(List<String> cmd) throws IOException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    byte[] out = p.getInputStream().readAllBytes();
    try {
      if (!p.waitFor(20, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(String.join(" ", cmd) + " timed out");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    if (p.exitValue() != 0) {
      throw new IOException(String.join(" ", cmd) + " failed (" + p.exitValue() + "): "
          + new String(out, StandardCharsets.UTF_8).trim());
    }
  }
}
