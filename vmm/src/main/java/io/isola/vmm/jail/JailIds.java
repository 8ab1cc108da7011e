package io.isola.vmm.jail;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Hands out the uid (and equal gid) each sandbox's QEMU runs as, from the configured range: never
 * one a live sandbox holds. A uid is also skipped while any host process runs as it, which keeps
 * two supervisors on one host (isolad and an embedded {@code isola run}) from sharing one.
 */
public final class JailIds {
  private final long base;
  private final int count;
  private final boolean randomStart;
  private final Set<Long> held = new HashSet<>();

  /**
   * @param randomStart start the search at a random place in the range (short-lived embedded
   *     runs) instead of at its bottom (isolad), so two allocators rarely race for one uid
   */
  public JailIds(long base, int count, boolean randomStart) {
    this.base = base;
    this.count = count;
    this.randomStart = randomStart;
  }

  public synchronized long allocate() throws JailException {
    Set<Long> running = hostProcessUids();
    int start = randomStart ? ThreadLocalRandom.current().nextInt(count) : 0;
    for (int i = 0; i < count; i++) {
      long uid = base + (start + i) % count;
      if (!held.contains(uid) && !running.contains(uid)) {
        held.add(uid);
        return uid;
      }
    }
    throw new JailException("all " + count + " jail uids from " + base + " are in use: raise [jail] uid_count");
  }

  /** Marks {@code uid} as taken by a QEMU adopted after a supervisor restart. */
  public synchronized void claim(long uid) throws JailException {
    if (!contains(uid)) {
      throw new JailException("uid " + uid + " is outside the jail range " + base + "+" + count);
    }
    held.add(uid);
  }

  public synchronized void release(long uid) {
    held.remove(uid);
  }

  public boolean contains(long uid) {
    return uid >= base && uid < base + count;
  }

  /** The uid a process runs as, from its /proc directory (unsigned: jail uids pass 2^31). */
  static long uidOf(Path procDirectory) throws IOException {
    return Integer.toUnsignedLong((Integer) Files.getAttribute(procDirectory, "unix:uid"));
  }

  /** Real uids of the host's processes (those we can see). */
  static Set<Long> hostProcessUids() {
    Set<Long> uids = new HashSet<>();
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("[0-9]+"))) {
      for (Path p : procs) {
        try {
          uids.add(uidOf(p));
        } catch (IOException gone) {
          // the process ended while we looked
        }
      }
    } catch (IOException e) {
      // no /proc: only the in-process set protects us
    }
    return uids;
  }
}
