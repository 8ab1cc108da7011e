package io.isola.shim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.isola.proto.v1.CreateSandboxRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SandboxAnnotationsTest {
  private static final CreateSandboxRequest CONFIGURED =
      CreateSandboxRequest.newBuilder().setVcpus(1).setMemoryMib(256).setKernel("debian").build();

  @Test
  void enabledAnnotationsOverrideTheConfiguredSandbox() throws Exception {
    CreateSandboxRequest r = SandboxAnnotations.apply(CONFIGURED, Map.of(
        "io.isola.sandbox.vcpus", "2", "io.isola.sandbox.memory_mib", "512",
        "io.isola.sandbox.base_image", "nano", "io.kubernetes.cri.sandbox-id", "pod1"),
        List.of("io.isola.sandbox.*"));
    assertEquals(2, r.getVcpus());
    assertEquals(512, r.getMemoryMib());
    assertEquals("debian", r.getKernel(), "not annotated: the configured value stays");
    assertEquals("nano", r.getBaseImage());
  }

  @Test
  void anAnnotationTheHostDidNotEnableIsRefusedNotIgnored() {
    var e = assertThrows(SandboxAnnotations.RefusedException.class, () -> SandboxAnnotations.apply(CONFIGURED,
        Map.of("io.isola.sandbox.memory_mib", "4096"), List.of("io.isola.sandbox.vcpus")));
    assertTrue(e.getMessage().contains("io.isola.sandbox.memory_mib is not enabled"), e.getMessage());
    assertTrue(e.getMessage().contains("enable_annotations"), "says what to change: " + e.getMessage());
    assertThrows(SandboxAnnotations.RefusedException.class,
        () -> SandboxAnnotations.apply(CONFIGURED, Map.of("io.isola.sandbox.vcpus", "2"), List.of()));
  }

  @Test
  void unknownIsolaAnnotationsAreRefusedEvenWhenAPrefixIsEnabled() {
    var e = assertThrows(SandboxAnnotations.RefusedException.class, () -> SandboxAnnotations.apply(CONFIGURED,
        Map.of("io.isola.sandbox.kernel_path", "/boot/vmlinuz"), List.of("io.isola.*")));
    assertTrue(e.getMessage().contains("unknown annotation"), e.getMessage());
  }

  @Test
  void valuesThatCouldNameHostPathsOrAbsurdSizesAreRefused() {
    for (var bad : List.of(Map.of("io.isola.sandbox.kernel", "../../boot/vmlinuz"),
        Map.of("io.isola.sandbox.kernel", "/boot/vmlinuz"),
        Map.of("io.isola.sandbox.base_image", "a..b"),
        Map.of("io.isola.sandbox.vcpus", "0"),
        Map.of("io.isola.sandbox.vcpus", "-1"),
        Map.of("io.isola.sandbox.vcpus", "1e9"),
        Map.of("io.isola.sandbox.memory_mib", "99999999999"))) {
      assertThrows(SandboxAnnotations.RefusedException.class,
          () -> SandboxAnnotations.apply(CONFIGURED, bad, List.of("io.isola.*")), bad.toString());
    }
  }

  @Test
  void othersAnnotationsPassBy() throws Exception {
    assertEquals(CONFIGURED, SandboxAnnotations.apply(CONFIGURED,
        Map.of("io.kubernetes.cri.container-type", "sandbox", "io.isolated", "x"), List.of()));
  }

  @Test
  void configReadsEnableAnnotationsAndRejectsOtherShapes(@TempDir Path dir) throws Exception {
    Path good = dir.resolve("good.toml");
    Files.writeString(good, "isolad_socket = \"unix:///run/x.sock\"\nmemory_mib = 192\n"
        + "enable_annotations = [\"io.isola.sandbox.vcpus\"]\n");
    ShimConfig c = ShimConfig.load(good.toString());
    assertEquals("/run/x.sock", c.isoladSocket());
    assertEquals(192, c.sandbox().getMemoryMib());
    assertEquals(List.of("io.isola.sandbox.vcpus"), c.enabledAnnotations());
    Path bad = dir.resolve("bad.toml");
    Files.writeString(bad, "enable_annotations = \"io.isola.*\"\n");
    var e = assertThrows(java.io.IOException.class, () -> ShimConfig.load(bad.toString()));
    assertTrue(e.getMessage().contains("enable_annotations must be a list"), e.getMessage());
    assertEquals(List.of(), ShimConfig.load("").enabledAnnotations());
  }
}
