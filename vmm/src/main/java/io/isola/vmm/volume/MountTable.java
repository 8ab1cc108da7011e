package io.isola.vmm.volume;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** The mount points of this process's mount namespace, from /proc/self/mountinfo. */
public final class MountTable {
  private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

  private MountTable() {}

  /** Mount points at or below {@code root}, deepest first (the order to unmount them in). */
  public static List<Path> mountPointsUnder(Path root) throws IOException {
    return mountPointsUnder(Files.readAllLines(MOUNTINFO), root.toAbsolutePath().normalize());
  }

  /** Whether something is mounted exactly at {@code target} (compared by real path); false if it cannot tell. */
  public static boolean isMountPoint(Path target) {
    try {
      Path wanted = target.toRealPath();
      return mountPointsUnder(Files.readAllLines(MOUNTINFO), wanted).contains(wanted);
    } catch (IOException e) {
      return false;
    }
  }

  static List<Path> mountPointsUnder(List<String> mountinfo, Path root) {
    List<Path> found = new ArrayList<>();
    for (String line : mountinfo) {
      String[] fields = line.split(" ");
      if (fields.length > 4) {
        Path point = Path.of(unescape(fields[4]));
        if (point.startsWith(root)) {
          found.add(point);
        }
      }
    }
    found.sort(Comparator.comparingInt(Path::getNameCount).reversed());
    return found;
  }

  /** mountinfo writes space, tab, newline and backslash as \ooo octal. */
  static String unescape(String s) {
    StringBuilder out = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).matches("[0-7]{3}")) {
        out.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }
}
