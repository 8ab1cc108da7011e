package io.isola.vmm.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VolumesTest {
  @TempDir Path dir;

  @Test
  void volumeFlagsParse() {
    assertEquals(VolumeRequest.bind(Path.of("/srv/a"), "/data", true), VolumeRequest.parse("/srv/a:/data:ro"));
    assertEquals(VolumeRequest.bind(Path.of("/srv/a"), "/data", false), VolumeRequest.parse("/srv/a:/data"));
    for (String bad : List.of("/srv/a", "/srv/a:/data:rx", ":/data", "/srv/a:", "/a:/b:ro:x")) {
      assertThrows(IllegalArgumentException.class, () -> VolumeRequest.parse(bad), bad);
    }
  }

  @Test
  void destinationsMustBeSaneContainerPaths() {
    for (String bad : List.of("data", "/", "/a/../etc", "/a/..", "//x", "/a,b", "/a\0b")) {
      assertThrows(IllegalArgumentException.class, () -> VolumeRequest.tmpfs(bad, 0), bad);
    }
    assertThrows(IllegalArgumentException.class, () -> VolumeRequest.tmpfs("/t", -1));
  }

  @Test
  void sourcesAreResolvedBeforeTheRootCheck() throws Exception {
    Path root = Files.createDirectories(dir.resolve("volumes"));
    Path inside = Files.createDirectories(root.resolve("data"));
    Path outside = Files.createDirectories(dir.resolve("secret"));
    Path link = Files.createSymbolicLink(root.resolve("link"), outside);
    VolumeRoots roots = new VolumeRoots(List.of(root));
    assertEquals(inside.toRealPath(), roots.check(inside));
    assertEquals(inside.toRealPath(), roots.check(root.resolve("data/../data")));
    var e = assertThrows(VolumeException.class, () -> roots.check(link));
    assertTrue(e.getMessage().contains("outside the allowed roots") && e.getMessage().contains("volume_roots"),
        e.getMessage());
    assertThrows(VolumeException.class, () -> roots.check(root.resolve("../secret")));
    assertThrows(VolumeException.class, () -> roots.check(root.resolve("missing")));
    assertThrows(VolumeException.class, () -> roots.check(Path.of("relative")));
    assertThrows(VolumeException.class, () -> new VolumeRoots(List.of(dir.resolve("nonexistent"))).check(inside));
  }

  @Test
  void mountinfoIsParsedWithItsEscapes() {
    List<String> mountinfo = List.of(
        "22 1 0:21 / / rw - ext4 /dev/sda1 rw",
        "90 22 0:50 / /var/lib/isola/s1/share/c1/volumes/v0 rw - ext4 /dev/sda1 rw",
        "91 22 0:50 / /var/lib/isola/s1/ro-share/c1/my\\040data rw - ext4 /dev/sda1 rw",
        "92 90 0:51 / /var/lib/isola/s1/share/c1/volumes/v0/sub rw - tmpfs tmpfs rw",
        "93 22 0:52 / /var/lib/isola/s10 rw - tmpfs tmpfs rw");
    assertEquals(List.of(Path.of("/var/lib/isola/s1/share/c1/volumes/v0/sub"),
        Path.of("/var/lib/isola/s1/share/c1/volumes/v0"), Path.of("/var/lib/isola/s1/ro-share/c1/my data")),
        MountTable.mountPointsUnder(mountinfo, Path.of("/var/lib/isola/s1")), "deepest first, s10 is not under s1");
    assertEquals("a\\b", MountTable.unescape("a\\134b"));
    assertEquals("a\\9", MountTable.unescape("a\\9"));
  }

  @Test
  void aJailedHypervisorNeedsTheVolumeOpenToIt(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
    Path closed = java.nio.file.Files.createDirectory(tmp.resolve("closed"),
        java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
            java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x")));
    VolumeStager.checkOpenTo(closed, true, 4_000_001); // readable by others: fine read-only
    VolumeException rw = assertThrows(VolumeException.class, () -> VolumeStager.checkOpenTo(closed, false, 4_000_001));
    assertTrue(rw.getMessage().contains("chmod o+w"), rw.getMessage());
    java.nio.file.Files.setPosixFilePermissions(closed, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
    VolumeException ro = assertThrows(VolumeException.class, () -> VolumeStager.checkOpenTo(closed, true, 4_000_001));
    assertTrue(ro.getMessage().contains("chmod o+rx"), ro.getMessage());
    java.nio.file.Files.setPosixFilePermissions(closed, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
    VolumeStager.checkOpenTo(closed, false, 4_000_001);
  }
}
