package io.isola.vmm.state;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/** A process started with exec in a running container; keyed by (containerId, execId). */
public record ExecRecord(
        String containerId,
        String execId,
        String tenant,
        List<String> args,
        boolean tty,
        boolean stdin,
        State state,
        int exitStatus,
        Instant exitedAt) {

    public enum State { CREATED, RUNNING, EXITED }

    public ExecRecord {
        Objects.requireNonNull(containerId, "containerId");
        Objects.requireNonNull(execId, "execId");
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(state, "state");
        args = args == null ? List.of() : List.copyOf(args);
    }

    public ExecRecord exited(int status, Instant at) {
        return new ExecRecord(containerId, execId, tenant, args, tty, stdin, State.EXITED, status, at);
    }
}
