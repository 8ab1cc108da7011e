package io.isola.vmm.catalog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CatalogTest {
  @TempDir Path dir;
  private static final String SHA = "a".repeat(64);

  private Path write(String kernelFile) throws Exception {
    Path file = dir.resolve("catalog.json");
    Files.writeString(file, """
        {"schema":1,"defaultKernel":"debian","defaultBaseImage":"nano",
         "kernels":[{"name":"debian","file":"%s","sha256":"%s","release":"6.1.0-1-amd64"}],
         "baseImages":[{"name":"nano","kind":"initramfs","file":"nano.cpio","sha256":"%s","kernelRelease":"6.1.0-1-amd64"}]}
        """.formatted(kernelFile, SHA, SHA));
    return file;
  }

  @Test
  void resolvesDefaultsAndNamesInsideItsDirectory() throws Exception {
    Catalog catalog = Catalog.load(write("vmlinux"));
    assertEquals(dir.resolve("vmlinux"), catalog.kernel(null).file());
    assertEquals(dir.resolve("nano.cpio"), catalog.baseImage("nano").file());
  }

  @Test
  void unknownNamesListWhatExists() throws Exception {
    Catalog catalog = Catalog.load(write("vmlinux"));
    CatalogException e = assertThrows(CatalogException.class, () -> catalog.kernel("nope"));
    assertTrue(e.getMessage().contains("unknown kernel \"nope\"") && e.getMessage().contains("[debian]"), e.getMessage());
  }

  @Test
  void aKernelGetsTheBaseImageBuiltForItsRelease() throws Exception {
    Path file = dir.resolve("catalog.json");
    Files.writeString(file, """
        {"schema":1,"defaultKernel":"debian","defaultBaseImage":"nano",
         "kernels":[{"name":"debian","file":"vmlinux-a","sha256":"%1$s","release":"6.1.0-1-amd64"},
                    {"name":"minimal","file":"vmlinux-b","sha256":"%1$s","release":"6.1.9-isola-minimal"}],
         "baseImages":[{"name":"nano","file":"nano-a.cpio","sha256":"%1$s","kernelRelease":"6.1.0-1-amd64"},
                       {"name":"nano-minimal","file":"nano-b.cpio","sha256":"%1$s","kernelRelease":"6.1.9-isola-minimal"}]}
        """.formatted(SHA));
    Catalog catalog = Catalog.load(file);
    assertEquals("nano", catalog.baseImageFor(catalog.kernel(null), null).name());
    assertEquals("nano-minimal", catalog.baseImageFor(catalog.kernel("minimal"), "").name());
    assertEquals("nano-minimal", catalog.baseImageFor(catalog.kernel("minimal"), "nano-minimal").name());
    CatalogException e = assertThrows(CatalogException.class,
        () -> catalog.baseImageFor(catalog.kernel("minimal"), "nano"));
    assertTrue(e.getMessage().contains("built for kernel release 6.1.0-1-amd64")
        && e.getMessage().contains("[nano-minimal]"), e.getMessage());
  }

  @Test
  void aCatalogCannotPointOutsideItsDirectory() throws Exception {
    CatalogException e = assertThrows(CatalogException.class, () -> Catalog.load(write("../../etc/shadow")));
    assertTrue(e.getMessage().contains("outside its directory"), e.getMessage());
  }

  @Test
  void missingCatalogSaysHowToBuildIt() {
    CatalogException e = assertThrows(CatalogException.class, () -> Catalog.load(dir.resolve("none.json")));
    assertTrue(e.getMessage().contains("make guest-image"), e.getMessage());
  }

  @Test
  void digestMismatchIsRefusedAndAVerdictIsRememberedOnlyForTheSameFile() throws Exception {
    Path file = dir.resolve("vmlinux");
    Files.writeString(file, "kernel bytes");
    String good = com.google.common.hash.Hashing.sha256().hashBytes("kernel bytes".getBytes()).toString();
    DigestVerifier verifier = new DigestVerifier(dir.resolve("cache"));
    verifier.verify(file, good);
    assertTrue(Files.exists(dir.resolve("cache").resolve(good)), "verdict remembered");
    verifier.verify(file, good); // from the cache
    Files.writeString(file, "evil bytes!!");
    CatalogException e = assertThrows(CatalogException.class, () -> verifier.verify(file, good));
    assertTrue(e.getMessage().contains("catalog expects " + good), e.getMessage());
  }
}
