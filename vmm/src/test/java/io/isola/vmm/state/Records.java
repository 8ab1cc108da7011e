package io.isola.vmm.state;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/** Test fixtures with every field set to something non-default, so a round trip checks each one. */
final class Records {
    private Records() {
    }

    static SandboxRecord sandbox(String id, String tenant) {
        return new SandboxRecord(id, tenant, SandboxRecord.State.RUNNING, 2, 512, "/k/vmlinux-6.6", "alpine:3.20",
                Map.of("app", "web", "tier", "front"), Map.of("note", "hello world"),
                Instant.parse("2025-01-02T03:04:05.123456789Z"), 4242, 987654321L, "b00t-id", "/run/isola/" + id,
                "/var/lib/isola/" + id, "6.6.30-isola", "guest-boot", null);
    }

    static ContainerRecord container(String id, String sandboxId, String tenant) {
        return new ContainerRecord(id, sandboxId, tenant, ContainerRecord.State.CREATED, "alpine:3.20",
                List.of("sh", "-c", "echo 'a b' \"c\""), true, false, Map.of("k", "v"),
                Instant.parse("2025-01-02T03:04:06Z"), null, null, 0, false, true);
    }

    static ExecRecord exec(String containerId, String execId, String tenant) {
        return new ExecRecord(containerId, execId, tenant, List.of("ls", "-l"), false, true,
                ExecRecord.State.RUNNING, 0, null);
    }
}
