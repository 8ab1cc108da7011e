package io.isola.vmm.catalog;

import com.google.common.hash.Hashing;
import com.google.common.io.MoreFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;

/**
 * Verifies a guest file's sha256 before it is booted. Hashing a 60 MB kernel on every start
 * would cost a large share of the start time, so a verified digest is remembered together with
 * the file's identity (device, inode, size, mtime, ctime). Any change to the file changes its
 * ctime, which no caller can set back, so a remembered verdict cannot outlive the bytes it is about.
 */
public final class DigestVerifier {
  private final Path cacheDirectory;

  /** @param cacheDirectory where verdicts are kept; only the runtime's own user may write there */
  public DigestVerifier(Path cacheDirectory) {
    this.cacheDirectory = cacheDirectory;
  }

  public void verify(Path file, String expectedSha256) throws CatalogException {
    String identity;
    try {
      identity = identity(file);
    } catch (IOException e) {
      throw new CatalogException("guest file " + file + " is missing or unreadable (" + e.getMessage()
          + "): rebuild the guest image (make guest-image)");
    }
    Path verdict = cacheDirectory.resolve(expectedSha256);
    try {
      if (Files.exists(verdict) && Files.readString(verdict).equals(identity)) {
        return;
      }
    } catch (IOException e) {
      // unreadable verdict: hash again
    }
    String actual;
    try {
      actual = MoreFiles.asByteSource(file).hash(Hashing.sha256()).toString();
    } catch (IOException e) {
      throw new CatalogException("cannot read guest file " + file + ": " + e.getMessage());
    }
    if (!actual.equals(expectedSha256)) {
      throw new CatalogException("guest file " + file + " has sha256 " + actual + " but the catalog expects "
          + expectedSha256 + ": the file changed after the catalog was written; rebuild the guest image (make guest-image)");
    }
    try {
      Files.createDirectories(cacheDirectory);
      Path tmp = Files.createTempFile(cacheDirectory, ".verdict", "");
      Files.writeString(tmp, identity, StandardCharsets.UTF_8);
      Files.move(tmp, verdict, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      // not remembering only costs time on the next start
    }
  }

  static String identity(Path file) throws IOException {
    Map<String, Object> unix = Files.readAttributes(file, "unix:dev,ino,size,lastModifiedTime,ctime",
        LinkOption.NOFOLLOW_LINKS);
    BasicFileAttributes basic = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    if (!basic.isRegularFile()) {
      throw new IOException("not a regular file");
    }
    return file.toAbsolutePath() + " " + unix.get("dev") + " " + unix.get("ino") + " " + unix.get("size") + " "
        + unix.get("lastModifiedTime") + " " + unix.get("ctime");
  }
}
