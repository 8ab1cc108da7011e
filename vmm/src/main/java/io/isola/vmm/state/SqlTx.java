package io.isola.vmm.state;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The SQL behind {@link StateAccess}, run on the store's single connection inside a transaction that
 * {@link StateStore} opened. Holds no state of its own except "is the transaction still open", so a Tx that
 * escaped its callback cannot write outside any transaction.
 */
final class SqlTx implements Tx {
    private final Connection c;
    private boolean open = true;

    SqlTx(Connection c) {
        this.c = c;
    }

    void end() {
        open = false;
    }

    // ---- sandboxes

    @Override
    public void putSandbox(SandboxRecord r) {
        insert("INSERT INTO sandboxes(id, tenant, state, vcpus, memory_mib, doc) VALUES (?,?,?,?,?,?)",
                "sandbox " + r.id(), r.id(), r.tenant(), r.state().name(), r.vcpus(), r.memoryMib(),
                RecordJson.write(r));
    }

    @Override
    public void updateSandbox(SandboxRecord r) {
        update("UPDATE sandboxes SET tenant=?, state=?, vcpus=?, memory_mib=?, doc=? WHERE id=?",
                "sandbox " + r.id(), r.tenant(), r.state().name(), r.vcpus(), r.memoryMib(), RecordJson.write(r),
                r.id());
    }

    @Override
    public boolean deleteSandbox(String id) {
        return exec("DELETE FROM sandboxes WHERE id=?", id) > 0;
    }

    @Override
    public Optional<SandboxRecord> getSandbox(String id) {
        return query("SELECT doc FROM sandboxes WHERE id=?", SandboxRecord.class, id).stream().findFirst();
    }

    @Override
    public List<SandboxRecord> listSandboxes() {
        return query("SELECT doc FROM sandboxes ORDER BY id", SandboxRecord.class);
    }

    @Override
    public List<SandboxRecord> listSandboxes(String tenant) {
        return query("SELECT doc FROM sandboxes WHERE tenant=? ORDER BY id", SandboxRecord.class, tenant);
    }

    // ---- containers

    @Override
    public void putContainer(ContainerRecord r) {
        insert("INSERT INTO containers(id, sandbox_id, tenant, state, doc) VALUES (?,?,?,?,?)",
                "container " + r.id(), r.id(), r.sandboxId(), r.tenant(), r.state().name(), RecordJson.write(r));
    }

    @Override
    public void updateContainer(ContainerRecord r) {
        update("UPDATE containers SET sandbox_id=?, tenant=?, state=?, doc=? WHERE id=?", "container " + r.id(),
                r.sandboxId(), r.tenant(), r.state().name(), RecordJson.write(r), r.id());
    }

    @Override
    public boolean deleteContainer(String id) {
        return exec("DELETE FROM containers WHERE id=?", id) > 0;
    }

    @Override
    public Optional<ContainerRecord> getContainer(String id) {
        return query("SELECT doc FROM containers WHERE id=?", ContainerRecord.class, id).stream().findFirst();
    }

    @Override
    public List<ContainerRecord> listContainers() {
        return query("SELECT doc FROM containers ORDER BY id", ContainerRecord.class);
    }

    @Override
    public List<ContainerRecord> listContainersBySandbox(String sandboxId) {
        return query("SELECT doc FROM containers WHERE sandbox_id=? ORDER BY id", ContainerRecord.class, sandboxId);
    }

    @Override
    public List<ContainerRecord> listContainersByTenant(String tenant) {
        return query("SELECT doc FROM containers WHERE tenant=? ORDER BY id", ContainerRecord.class, tenant);
    }

    // ---- execs

    @Override
    public void putExec(ExecRecord r) {
        insert("INSERT INTO execs(container_id, exec_id, tenant, state, doc) VALUES (?,?,?,?,?)",
                "exec " + r.containerId() + "/" + r.execId(), r.containerId(), r.execId(), r.tenant(),
                r.state().name(), RecordJson.write(r));
    }

    @Override
    public void updateExec(ExecRecord r) {
        update("UPDATE execs SET tenant=?, state=?, doc=? WHERE container_id=? AND exec_id=?",
                "exec " + r.containerId() + "/" + r.execId(), r.tenant(), r.state().name(), RecordJson.write(r),
                r.containerId(), r.execId());
    }

    @Override
    public boolean deleteExec(String containerId, String execId) {
        return exec("DELETE FROM execs WHERE container_id=? AND exec_id=?", containerId, execId) > 0;
    }

    @Override
    public Optional<ExecRecord> getExec(String containerId, String execId) {
        return query("SELECT doc FROM execs WHERE container_id=? AND exec_id=?", ExecRecord.class, containerId,
                execId).stream().findFirst();
    }

    @Override
    public List<ExecRecord> listExecs(String containerId) {
        return query("SELECT doc FROM execs WHERE container_id=? ORDER BY exec_id", ExecRecord.class, containerId);
    }

    @Override
    public TenantUsage usage(String tenant) {
        checkOpen();
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT count(*), coalesce(sum(vcpus),0), coalesce(sum(memory_mib),0) FROM sandboxes"
                        + " WHERE tenant=? AND state IN ('CREATING','RUNNING')")) {
            ps.setString(1, tenant);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new TenantUsage(rs.getInt(1), rs.getLong(2), rs.getLong(3));
            }
        } catch (SQLException e) {
            throw new StateStoreException("usage of tenant " + tenant + ": " + e.getMessage(), e);
        }
    }

    // ---- helpers

    private void insert(String sql, String what, Object... args) {
        try {
            execOrThrow(sql, args);
        } catch (SQLException e) {
            // SQLITE_CONSTRAINT: duplicate id, or a container/exec whose parent does not exist.
            throw new StateStoreException("cannot put " + what + ": " + e.getMessage(), e);
        }
    }

    private void update(String sql, String what, Object... args) {
        int n;
        try {
            n = execOrThrow(sql, args);
        } catch (SQLException e) {
            throw new StateStoreException("cannot update " + what + ": " + e.getMessage(), e);
        }
        if (n == 0) {
            throw new StateStoreException("cannot update " + what + ": no such record");
        }
    }

    private int exec(String sql, Object... args) {
        try {
            return execOrThrow(sql, args);
        } catch (SQLException e) {
            throw new StateStoreException(sql + ": " + e.getMessage(), e);
        }
    }

    private int execOrThrow(String sql, Object... args) throws SQLException {
        checkOpen();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            bind(ps, args);
            return ps.executeUpdate();
        }
    }

    private <T> List<T> query(String sql, Class<T> type, Object... args) {
        checkOpen();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            bind(ps, args);
            List<T> out = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(RecordJson.read(rs.getString(1), type));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new StateStoreException(sql + ": " + e.getMessage(), e);
        }
    }

    private static void bind(PreparedStatement ps, Object... args) throws SQLException {
        for (int i = 0; i < args.length; i++) {
            ps.setObject(i + 1, args[i]);
        }
    }

    private void checkOpen() {
        if (!open) {
            throw new IllegalStateException("transaction already ended; use the Tx only inside its callback");
        }
    }
}
