package io.isola.vmm.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RuntimeSpecBuilderTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path rootfs;

    final ImageConfig image = new ImageConfig(List.of("PATH=/opt/bin:/bin", "LANG=C", "MODE=prod"),
            List.of("/entry.sh"), List.of("serve", "--port=80"), "/app", "app", "SIGTERM");

    @BeforeEach
    void passwd() throws IOException {
        Files.createDirectories(rootfs.resolve("etc"));
        Files.writeString(rootfs.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n"
                + "app:x:1000:1001:app:/home/app:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n");
        Files.writeString(rootfs.resolve("etc/group"), "root:x:0:\napp:x:1001:\nwheel:x:10:app,other\n"
                + "audio:x:29:app\nnogroup:x:65534:\n");
    }

    private JsonNode spec(ImageConfig img, RunOptions run) throws IOException {
        return JSON.readTree(RuntimeSpecBuilder.runtimeSpec(img, run, rootfs));
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    @Test
    void volumesAreAddedAndOneAtADefaultDestinationReplacesIt() throws IOException {
        JsonNode s = spec(image, RunOptions.builder()
                .mounts(List.of(new RunOptions.Mount("/data", "bind", "/run/isola/shares/ro/c1/v0",
                                List.of("rbind", "ro")),
                        new RunOptions.Mount("/dev/shm", "tmpfs", "tmpfs", List.of("size=1024k"))))
                .build());
        List<String> destinations = new ArrayList<>();
        s.path("mounts").forEach(m -> destinations.add(m.path("destination").asText()));
        assertEquals(List.of("/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/data", "/dev/shm"),
                destinations);
        JsonNode data = s.path("mounts").get(6);
        assertEquals("/run/isola/shares/ro/c1/v0", data.path("source").asText());
        assertEquals(List.of("rbind", "ro"), strings(data.path("options")));
        assertEquals(List.of("size=1024k"), strings(s.path("mounts").get(7).path("options")));
    }

    @Test
    void shmSizeSetsTheDefaultShmMount() throws IOException {
        JsonNode s = spec(image, RunOptions.builder().shmSizeBytes(8L << 20).build());
        assertTrue(strings(s.path("mounts").get(3).path("options")).contains("size=8192k"));
    }

    @Test
    void imageDefaults() throws IOException {
        JsonNode s = spec(image, RunOptions.builder().build());
        assertEquals("1.0.2", s.path("ociVersion").asText());
        JsonNode p = s.path("process");
        assertEquals(List.of("/entry.sh", "serve", "--port=80"), strings(p.path("args")));
        assertEquals(List.of("PATH=/opt/bin:/bin", "LANG=C", "MODE=prod"), strings(p.path("env")));
        assertEquals("/app", p.path("cwd").asText());
        assertEquals(1000, p.path("user").path("uid").asInt());
        assertEquals(1001, p.path("user").path("gid").asInt());
        assertEquals(List.of("10", "29"), strings(p.path("user").path("additionalGids")));
        assertFalse(p.path("terminal").asBoolean());
        assertEquals("rootfs", s.path("root").path("path").asText());
        assertFalse(s.path("root").path("readonly").asBoolean());
        assertEquals(14, p.path("capabilities").path("bounding").size());
        assertTrue(p.path("capabilities").path("effective").isMissingNode(), "non-root: no effective caps");
        assertEquals("RLIMIT_NOFILE", p.path("rlimits").get(0).path("type").asText());
        List<String> mounts = new ArrayList<>();
        s.path("mounts").forEach(m -> mounts.add(m.path("destination").asText()));
        assertEquals(List.of("/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"), mounts);
        assertTrue(strings(s.path("mounts").get(5).path("options")).contains("ro"));
        List<String> ns = new ArrayList<>();
        s.path("linux").path("namespaces").forEach(n -> ns.add(n.path("type").asText()));
        assertEquals(List.of("pid", "ipc", "uts", "mount", "cgroup"), ns, "the guest's network is the sandbox's");
        assertTrue(strings(s.path("linux").path("maskedPaths")).contains("/proc/kcore"));
        assertTrue(strings(s.path("linux").path("readonlyPaths")).contains("/proc/sys"));
        assertTrue(s.path("linux").path("resources").path("memory").isMissingNode());
        assertTrue(s.path("hostname").isMissingNode());
    }

    @Test
    void runOptionsOverride() throws IOException {
        RunOptions run = RunOptions.builder().args(List.of("debug", "-v")).env("MODE=dev").env("NEW=1")
                .cwd("/tmp").user("0:0").terminal(true).hostname("box").memoryLimitBytes(256L << 20).pidsLimit(100)
                .build();
        JsonNode s = spec(image, run);
        JsonNode p = s.path("process");
        assertEquals(List.of("/entry.sh", "debug", "-v"), strings(p.path("args")), "args replace Cmd, keep Entrypoint");
        assertEquals(List.of("PATH=/opt/bin:/bin", "LANG=C", "MODE=dev", "TERM=xterm", "NEW=1"), strings(p.path("env")));
        assertEquals("/tmp", p.path("cwd").asText());
        assertEquals(0, p.path("user").path("uid").asInt());
        assertEquals(0, p.path("user").path("gid").asInt());
        assertTrue(p.path("user").path("additionalGids").isMissingNode());
        assertEquals(14, p.path("capabilities").path("effective").size());
        assertTrue(p.path("terminal").asBoolean());
        assertEquals("box", s.path("hostname").asText());
        assertEquals(256L << 20, s.path("linux").path("resources").path("memory").path("limit").asLong());
        assertEquals(100, s.path("linux").path("resources").path("pids").path("limit").asLong());
    }

    @Test
    void entrypointOverrideDropsImageCmd() throws IOException {
        JsonNode p = spec(image, RunOptions.builder().entrypoint(List.of("/bin/sh")).build()).path("process");
        assertEquals(List.of("/bin/sh"), strings(p.path("args")));
    }

    @Test
    void defaultPathAndRootWhenImageIsEmpty() throws IOException {
        JsonNode p = spec(ImageConfig.EMPTY, RunOptions.builder().args(List.of("sh")).build()).path("process");
        assertEquals(List.of("sh"), strings(p.path("args")));
        assertEquals(List.of(ProcessSpecBuilder.DEFAULT_PATH), strings(p.path("env")));
        assertEquals("/", p.path("cwd").asText());
        assertEquals(0, p.path("user").path("uid").asInt());
    }

    @Test
    void missingCommand() {
        ImageException e = assertThrows(ImageException.class,
                () -> RuntimeSpecBuilder.runtimeSpec(ImageConfig.EMPTY, RunOptions.builder().build(), rootfs));
        assertEquals("no command: the image has no Entrypoint/Cmd, give one after --", e.getMessage());
    }

    @Test
    void badEnvAndRelativeCwdRejected() {
        assertThrows(ImageException.class, () -> RuntimeSpecBuilder.runtimeSpec(image,
                RunOptions.builder().env("HOSTVAR").build(), rootfs));
        assertThrows(ImageException.class, () -> RuntimeSpecBuilder.runtimeSpec(image,
                RunOptions.builder().cwd("rel").build(), rootfs));
    }

    @Test
    void execProcessUsesArgsVerbatim() throws IOException {
        JsonNode p = JSON.readTree(RuntimeSpecBuilder.execProcessSpec(image,
                RunOptions.builder().args(List.of("ps", "aux")).user("nobody").build(), rootfs));
        assertEquals(List.of("ps", "aux"), strings(p.path("args")));
        assertEquals(65534, p.path("user").path("uid").asInt());
        assertEquals(65534, p.path("user").path("gid").asInt());
        assertEquals("/app", p.path("cwd").asText());
        assertTrue(p.path("ociVersion").isMissingNode());
    }
}
