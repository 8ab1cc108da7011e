package io.isola.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isola.vmm.catalog.Catalog;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The catalog's second kernel, "minimal" (built from Debian's kernel source with
 * guest-image/kernel-minimal/minimal.config, no modules): `isola run --kernel minimal` boots it
 * with its own module-less base image, and the container really runs on it.
 */
class MinimalKernelIT {
  private static final int TIMEOUT = 180;
  @TempDir static Path roots;
  private static Path runRoot;
  private static Path stateRoot;
  private static String image;
  private static Catalog catalog;

  @BeforeAll
  static void paths() throws Exception {
    runRoot = roots.resolve("run");
    stateRoot = roots.resolve("state");
    image = IsolaProcess.DEMO_IMAGE.toString();
    assertTrue(Files.isDirectory(IsolaProcess.DEMO_IMAGE), "demo image missing (make demo-image): " + image);
    catalog = Catalog.load(IsolaProcess.PROJECT.resolve("guest-image/out/catalog.json"));
  }

  @AfterEach
  void nothingLeftBehind() throws Exception {
    assertEquals(List.of(), IsolaProcess.leftovers(runRoot), "runtime files left behind");
    assertEquals(List.of(), IsolaProcess.leftovers(stateRoot), "state left behind");
    assertEquals(List.of(), IsolaProcess.qemuProcessesUnder(roots), "QEMU processes left behind");
  }

  @Test
  void aContainerRunsOnTheMinimalKernel() throws Exception {
    Catalog.Kernel minimal = catalog.kernel("minimal");
    assertNotEquals(catalog.kernel(null).release(), minimal.release(), "two different kernels");
    assertTrue(minimal.release().endsWith("-isola-minimal"), minimal.release());
    var result = IsolaProcess.start(runRoot, stateRoot, "run", "--embedded", "--rm", "--kernel", "minimal", image, "--",
        "sh", "-c", "echo hello minimal; uname -r; cat /proc/version; echo to-stderr >&2").await(TIMEOUT);
    assertEquals(0, result.exitCode(), result.toString());
    String[] lines = result.stdout().split("\n");
    assertEquals("hello minimal", lines[0], result.toString());
    assertEquals(minimal.release(), lines[1], "uname -r in the container is the minimal kernel's");
    assertTrue(lines[2].startsWith("Linux version " + minimal.release() + " "), "/proc/version: " + lines[2]);
    assertTrue(result.stderr().contains("to-stderr"), result.toString());
  }

  @Test
  void aBaseImageBuiltForTheOtherKernelIsRefused() throws Exception {
    var result = IsolaProcess.start(runRoot, stateRoot, "run", "--embedded", "--rm", "--kernel", "minimal", "--base-image", "nano",
        image, "--", "true").await(TIMEOUT);
    assertNotEquals(0, result.exitCode(), result.toString());
    assertTrue(result.stderr().contains("base image \"nano\" is built for kernel release"), result.toString());
  }
}
