package io.isola.vmm.state;

import java.util.List;
import java.util.Optional;

/**
 * Reads and writes of the three record kinds. Implemented by {@link StateStore} (each call is its own committed
 * transaction) and by {@link Tx} (calls join the enclosing {@link StateStore#transaction} and commit together).
 *
 * <p>put inserts and fails if the id exists; update replaces and fails if it does not (so a lost record is an error,
 * not a silent re-create); delete returns whether something was deleted.
 */
public interface StateAccess {
    void putSandbox(SandboxRecord r);

    void updateSandbox(SandboxRecord r);

    /** Deletes the sandbox and, by ON DELETE CASCADE, its containers and their execs. */
    boolean deleteSandbox(String id);

    Optional<SandboxRecord> getSandbox(String id);

    List<SandboxRecord> listSandboxes();

    List<SandboxRecord> listSandboxes(String tenant);

    void putContainer(ContainerRecord r);

    void updateContainer(ContainerRecord r);

    /** Deletes the container and its execs (the owned sandbox, if any, is the caller's decision). */
    boolean deleteContainer(String id);

    Optional<ContainerRecord> getContainer(String id);

    List<ContainerRecord> listContainers();

    List<ContainerRecord> listContainersBySandbox(String sandboxId);

    List<ContainerRecord> listContainersByTenant(String tenant);

    void putExec(ExecRecord r);

    void updateExec(ExecRecord r);

    boolean deleteExec(String containerId, String execId);

    Optional<ExecRecord> getExec(String containerId, String execId);

    List<ExecRecord> listExecs(String containerId);

    /** Count, vcpus and memory of the tenant's sandboxes that are CREATING or RUNNING. */
    TenantUsage usage(String tenant);
}
