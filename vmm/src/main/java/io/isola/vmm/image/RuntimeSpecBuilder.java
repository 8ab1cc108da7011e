package io.isola.vmm.image;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Writes the OCI runtime {@code config.json} that crun in the guest runs, from the image config and the
 * user's run options. Defaults match {@code runc spec} / docker (mounts, namespaces, masked and read-only
 * paths, capabilities); the bundle layout is {@code <bundle>/config.json} + {@code <bundle>/rootfs/}.
 */
public final class RuntimeSpecBuilder {
    public static final String OCI_VERSION = "1.0.2";

    /** runc's and docker's defaults: kernel interfaces that leak host information or allow host changes. */
    static final List<String> MASKED_PATHS = List.of(
            "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
            "/sys/firmware", "/sys/devices/virtual/powercap");
    static final List<String> READONLY_PATHS = List.of(
            "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger");
    /**
     * No network namespace: containers share the guest's, which is the sandbox's network (its
     * NICs, or loopback only). The VM is the isolation boundary; a pod's containers share a network.
     */
    static final List<String> NAMESPACES = List.of("pid", "ipc", "uts", "mount", "cgroup");

    private RuntimeSpecBuilder() {
    }

    /**
     * The full config.json.
     *
     * @param rootfs the container root on the host; read only to resolve user and group names
     */
    public static byte[] runtimeSpec(ImageConfig image, RunOptions run, Path rootfs) throws IOException {
        return toJson(runtimeSpecTree(image, run, rootfs));
    }

    /** Just the {@code process} object for an exec: {@code run.args()} is the whole command. */
    public static byte[] execProcessSpec(ImageConfig image, RunOptions run, Path rootfs) throws IOException {
        return toJson(ProcessSpecBuilder.exec(image, run, rootfs));
    }

    static ObjectNode runtimeSpecTree(ImageConfig image, RunOptions run, Path rootfs) throws IOException {
        ObjectNode spec = ProcessSpecBuilder.NODES.objectNode();
        spec.put("ociVersion", OCI_VERSION);
        spec.set("process", ProcessSpecBuilder.run(image, run, rootfs));
        ObjectNode root = spec.putObject("root");
        root.put("path", "rootfs");
        root.put("readonly", false);
        if (run.hostname() != null && !run.hostname().isEmpty()) {
            spec.put("hostname", run.hostname());
        }
        ArrayNode mounts = spec.putArray("mounts");
        mount(mounts, "/proc", "proc", "proc", "nosuid", "noexec", "nodev");
        mount(mounts, "/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k");
        mount(mounts, "/dev/pts", "devpts", "devpts", "nosuid", "noexec", "newinstance", "ptmxmode=0666",
                "mode=0620", "gid=5");
        long shmKib = run.shmSizeBytes() > 0 ? Math.max(1, run.shmSizeBytes() / 1024) : 65536;
        mount(mounts, "/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", "size=" + shmKib + "k");
        mount(mounts, "/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev");
        mount(mounts, "/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro");
        mount(mounts, "/sys/fs/cgroup", "cgroup", "cgroup", "nosuid", "noexec", "nodev", "relatime", "ro");
        for (RunOptions.Mount m : run.mounts()) {
            for (int i = mounts.size() - 1; i >= 0; i--) {
                if (mounts.get(i).path("destination").asText().equals(m.destination())) {
                    mounts.remove(i); // the caller's volume replaces the default at that place
                }
            }
            mount(mounts, m.destination(), m.type(), m.source(), m.options().toArray(String[]::new));
        }

        ObjectNode linux = spec.putObject("linux");
        ObjectNode resources = linux.putObject("resources");
        ObjectNode denyAll = resources.putArray("devices").addObject();
        denyAll.put("allow", false); // crun allows its default device set (null, zero, tty, ...) itself
        denyAll.put("access", "rwm");
        if (run.memoryLimitBytes().isPresent()) {
            long m = run.memoryLimitBytes().getAsLong();
            if (m <= 0) {
                throw new ImageException("memory limit must be positive, got " + m);
            }
            resources.putObject("memory").put("limit", m);
        }
        if (run.pidsLimit().isPresent()) {
            long p = run.pidsLimit().getAsLong();
            if (p <= 0) {
                throw new ImageException("pids limit must be positive, got " + p);
            }
            resources.putObject("pids").put("limit", p);
        }
        RunOptions.CpuLimit cpu = run.cpu();
        if (cpu.shares() < 0 || cpu.quotaMicros() < 0 || cpu.periodMicros() < 0) {
            throw new ImageException("CPU limits must not be negative, got " + cpu);
        }
        if (cpu.shares() > 0 || cpu.quotaMicros() > 0) {
            ObjectNode c = resources.putObject("cpu");
            if (cpu.shares() > 0) {
                c.put("shares", cpu.shares());
            }
            if (cpu.quotaMicros() > 0) {
                if (cpu.periodMicros() > 0 && cpu.quotaMicros() < 1000) {
                    throw new ImageException("a CPU quota below 1000 us is not allowed, got " + cpu.quotaMicros());
                }
                c.put("quota", cpu.quotaMicros());
                c.put("period", cpu.periodMicros() > 0 ? cpu.periodMicros() : 100_000);
            }
        }
        ArrayNode ns = linux.putArray("namespaces");
        NAMESPACES.forEach(t -> ns.addObject().put("type", t));
        ArrayNode masked = linux.putArray("maskedPaths");
        MASKED_PATHS.forEach(masked::add);
        ArrayNode ro = linux.putArray("readonlyPaths");
        READONLY_PATHS.forEach(ro::add);
        return spec;
    }

    private static void mount(ArrayNode mounts, String destination, String type, String source, String... options) {
        ObjectNode m = mounts.addObject();
        m.put("destination", destination);
        m.put("type", type);
        m.put("source", source);
        ArrayNode o = m.putArray("options");
        for (String s : options) {
            o.add(s);
        }
    }

    static byte[] toJson(ObjectNode node) throws IOException {
        return OciImageReader.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(node);
    }
}
