package io.isola.vmm.volume;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The host directories volume sources may come from. A source is resolved (symlinks and "..")
 * before it is checked, so a link inside an allowed root cannot point the bind elsewhere.
 */
public record VolumeRoots(List<Path> roots) {
  public VolumeRoots {
    roots = List.copyOf(roots);
  }

  /** The real path of {@code source} if it lies in an allowed root. */
  public Path check(Path source) throws VolumeException {
    if (!source.isAbsolute()) {
      throw new VolumeException("volume source must be an absolute host path, got " + source);
    }
    Path real;
    try {
      real = source.toRealPath();
    } catch (IOException e) {
      throw new VolumeException("volume source " + source + " does not exist");
    }
    if (!Files.isDirectory(real) && !Files.isRegularFile(real)) {
      throw new VolumeException("volume source " + source + " is neither a directory nor a regular file");
    }
    for (Path root : resolvedRoots()) {
      if (real.startsWith(root) && !real.equals(root.getRoot())) {
        return real;
      }
    }
    throw new VolumeException("volume source " + source + (real.equals(source) ? "" : " (" + real + ")")
        + " is outside the allowed roots " + roots + "; move the data there or add a root to volume_roots"
        + " in isolad's configuration");
  }

  private List<Path> resolvedRoots() {
    List<Path> out = new ArrayList<>();
    for (Path r : roots) {
      try {
        out.add(r.toRealPath());
      } catch (IOException e) {
        // a root that does not exist allows nothing
      }
    }
    return out;
  }
}
