package io.isola.vmm.state;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * What isolad must remember about a sandbox (one VM) to answer calls and to re-adopt the VM after a restart.
 *
 * <p>{@code qemuPid} alone is not enough to find the VM again: pids are reused. The pair (pid, start time in
 * clock ticks since boot, {@code /proc/<pid>/stat} field 22) identifies one process for the lifetime of one host
 * boot, and {@code bootId} says which boot that was (see {@link HostProcess}).
 */
public record SandboxRecord(
        String id,
        String tenant,
        State state,
        int vcpus,
        long memoryMib,
        String kernel,
        String baseImage,
        Map<String, String> labels,
        Map<String, String> annotations,
        Instant createdAt,
        long qemuPid,
        long qemuStartTime,
        String bootId,
        String runDir,
        String stateDir,
        String guestKernelRelease,
        String guestBootId,
        String stopReason) {

    public enum State { CREATING, RUNNING, STOPPED, DIED }

    public SandboxRecord {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(state, "state");
        labels = labels == null ? Map.of() : Map.copyOf(labels);
        annotations = annotations == null ? Map.of() : Map.copyOf(annotations);
    }

    public SandboxRecord withState(State newState, String newStopReason) {
        return new SandboxRecord(id, tenant, newState, vcpus, memoryMib, kernel, baseImage, labels, annotations,
                createdAt, qemuPid, qemuStartTime, bootId, runDir, stateDir, guestKernelRelease, guestBootId,
                newStopReason);
    }

    public SandboxRecord withQemu(long pid, long startTime, String hostBootId) {
        return new SandboxRecord(id, tenant, state, vcpus, memoryMib, kernel, baseImage, labels, annotations,
                createdAt, pid, startTime, hostBootId, runDir, stateDir, guestKernelRelease, guestBootId, stopReason);
    }

    public SandboxRecord withVcpus(int newVcpus) {
        return new SandboxRecord(id, tenant, state, newVcpus, memoryMib, kernel, baseImage, labels, annotations,
                createdAt, qemuPid, qemuStartTime, bootId, runDir, stateDir, guestKernelRelease, guestBootId,
                stopReason);
    }
}
