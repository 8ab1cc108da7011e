package io.isola.vmm.state;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A container inside a sandbox. {@code ownsSandbox} marks a sandbox created implicitly for this container
 * (plain {@code isola run}): deleting the container deletes that sandbox too.
 * {@code startedAt}/{@code exitedAt} are null until they happened; {@code exitStatus} is meaningful only when EXITED.
 */
public record ContainerRecord(
        String id,
        String sandboxId,
        String tenant,
        State state,
        String image,
        List<String> args,
        boolean tty,
        boolean stdin,
        Map<String, String> labels,
        Instant createdAt,
        Instant startedAt,
        Instant exitedAt,
        int exitStatus,
        boolean oomKilled,
        boolean ownsSandbox) {

    public enum State { CREATED, RUNNING, PAUSED, EXITED }

    public ContainerRecord {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(sandboxId, "sandboxId");
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(state, "state");
        args = args == null ? List.of() : List.copyOf(args);
        labels = labels == null ? Map.of() : Map.copyOf(labels);
    }

    public ContainerRecord started(Instant at) {
        return new ContainerRecord(id, sandboxId, tenant, State.RUNNING, image, args, tty, stdin, labels, createdAt,
                at, exitedAt, exitStatus, oomKilled, ownsSandbox);
    }

    /** The same container in another live state (RUNNING or PAUSED). */
    public ContainerRecord withState(State newState) {
        return new ContainerRecord(id, sandboxId, tenant, newState, image, args, tty, stdin, labels, createdAt,
                startedAt, exitedAt, exitStatus, oomKilled, ownsSandbox);
    }

    public ContainerRecord exited(int status, boolean oom, Instant at) {
        return new ContainerRecord(id, sandboxId, tenant, State.EXITED, image, args, tty, stdin, labels, createdAt,
                startedAt, at, status, oom, ownsSandbox);
    }
}
