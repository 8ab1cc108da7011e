package io.isola.vmm.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs guest-image/demo-image/build.sh and reads its output with the Java reader (skipped without busybox). */
class DemoImageTest {
    @TempDir
    Path tmp;

    @Test
    void demoImageBuildsAndUnpacks() throws Exception {
        Path script = Path.of("..", "guest-image", "demo-image", "build.sh").toAbsolutePath().normalize();
        assumeTrue(Files.isExecutable(script), "no " + script);
        Process p = new ProcessBuilder(script.toString(), tmp.resolve("out").toString())
                .redirectErrorStream(true).redirectOutput(tmp.resolve("build.log").toFile()).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "build.sh timed out");
        assumeTrue(p.exitValue() == 0 || !readLog().contains("no static busybox found"),
                "busybox-static is not available here");
        assertEquals(0, p.exitValue(), () -> readLog());

        for (Path arg : List.of(tmp.resolve("out/demo-oci"), tmp.resolve("out/demo-oci.tar"))) {
            Path rootfs = tmp.resolve("rootfs-" + arg.getFileName());
            try (Image img = Image.open(arg, "latest")) {
                assertEquals(List.of("sh"), img.config().cmd());
                PreparedRootfs r = img.unpackTo(rootfs);
                assertTrue(r.stats().symlinks() > 100, "applet symlinks: " + r.stats());
                assertEquals("/bin/busybox", MappedAttributes.readLink(rootfs.resolve("bin/sh")));
                assertEquals(MappedAttributes.S_IFDIR | 01777, MappedAttributes.read(rootfs.resolve("tmp")).mode());
                JsonNode spec = new ObjectMapper().readTree(RuntimeSpecBuilder.runtimeSpec(img.config(),
                        RunOptions.builder().user("demo").build(), rootfs));
                assertEquals("sh", spec.path("process").path("args").get(0).asText());
                assertEquals(1000, spec.path("process").path("user").path("uid").asInt());
            }
        }
    }

    private String readLog() {
        try {
            return Files.readString(tmp.resolve("build.log"));
        } catch (IOException e) {
            return e.toString();
        }
    }
}
