package io.isola.vmm.jail;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Handing a tree over while something else still deletes in it (an image being unpacked). */
class FileOwnershipTest {
  private static final long UID = 4_000_123L;
  @TempDir Path dir;

  @Test
  void aTreeThatLosesEntriesDuringTheWalkIsHandedOverWithoutFailing() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "chown to another uid needs root");
    for (int round = 0; round < 10; round++) {
      Path root = Files.createDirectories(dir.resolve("r" + round));
      for (int d = 0; d < 40; d++) {
        Path sub = Files.createDirectories(root.resolve("d" + d).resolve("inner"));
        for (int f = 0; f < 50; f++) {
          Files.writeString(sub.resolve("f" + f), "x");
        }
      }
      CompletableFuture<Void> deleter = CompletableFuture.runAsync(() -> {
        for (int d = 39; d >= 0; d -= 2) { // every other directory goes, deepest entries first
          try (Stream<Path> walk = Files.walk(root.resolve("d" + d))) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
              Files.deleteIfExists(p);
            }
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }
      });
      FileOwnership.handOver(root, UID, UID);
      deleter.join();
      FileOwnership.handOver(root, UID, UID); // what the walk met late: the second pass, as isola run does
      try (Stream<Path> left = Files.walk(root)) {
        List<Path> notHandedOver = left.filter(p -> !owner(p).equals((int) UID)).toList();
        assertEquals(List.of(), notHandedOver);
      }
    }
  }

  private static Object owner(Path p) {
    try {
      return Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
