package io.isola.vmm.state;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * isolad's durable state: sandboxes, containers and execs in one SQLite database ({@code <state_root>/isolad.db}).
 *
 * <p>Durability: WAL journal with {@code synchronous=FULL}, so SQLite fsyncs the WAL at every commit and a method
 * that returned has its change on stable storage (it survives SIGKILL of isolad and a host power loss). Every
 * {@link StateAccess} method on this class is its own transaction; use {@link #transaction} to change several
 * records atomically.
 *
 * <p>Concurrency: the daemon is the only writer, so there is one connection and one (fair) lock around it; calls
 * from many threads are serialised and never see SQLITE_BUSY from each other. Transactions start with
 * {@code BEGIN IMMEDIATE} so that another process (a debugging sqlite3 shell, say) makes us wait up to
 * {@code busy_timeout} at the start instead of failing a half-done read-modify-write.
 */
public final class StateStore implements StateAccess, AutoCloseable {
    static final int BUSY_TIMEOUT_MS = 10_000;

    private final Path dbFile;
    private final Connection conn;
    private final ReentrantLock lock = new ReentrantLock(true);
    private boolean closed;

    private StateStore(Path dbFile, Connection conn) {
        this.dbFile = dbFile;
        this.conn = conn;
    }

    /** Opens (creating if absent) the database and brings its schema to this version. */
    public static StateStore open(Path dbFile) {
        Path file = dbFile.toAbsolutePath();
        Connection c = null;
        try {
            Files.createDirectories(file.getParent());
            boolean created = !Files.exists(file);
            c = DriverManager.getConnection("jdbc:sqlite:" + file);
            configure(c, file);
            Schema.migrate(c, file.toString());
            if (created) {
                // SQLite syncs the directory for the journal/WAL it creates, not for the main file it creates.
                fsyncDirectory(file.getParent());
            }
            return new StateStore(file, c);
        } catch (SQLException | IOException | RuntimeException e) {
            closeQuietly(c);
            if (e instanceof StateStoreException sse) {
                throw sse;
            }
            throw new StateStoreException("cannot open state database " + file + ": " + e.getMessage(), e);
        }
    }

    private static void configure(Connection c, Path file) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("PRAGMA busy_timeout = " + BUSY_TIMEOUT_MS);
            String mode = pragma(s, "PRAGMA journal_mode = WAL");
            if (!"wal".equalsIgnoreCase(mode)) {
                // e.g. a filesystem without shared memory support: refuse rather than run with weaker guarantees.
                throw new StateStoreException("cannot put " + file + " in WAL mode (journal_mode is " + mode + ")");
            }
            s.execute("PRAGMA synchronous = FULL");
            s.execute("PRAGMA foreign_keys = ON");
            // Verify: both pragmas are silently ignored in some situations (foreign_keys inside a transaction).
            if (!"2".equals(pragma(s, "PRAGMA synchronous")) || !"1".equals(pragma(s, "PRAGMA foreign_keys"))) {
                throw new StateStoreException("cannot enable synchronous=FULL and foreign_keys on " + file);
            }
        }
    }

    private static String pragma(Statement s, String sql) throws SQLException {
        try (ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    public Path dbFile() {
        return dbFile;
    }

    /**
     * Runs {@code body} in one transaction: committed (and fsynced) when it returns, rolled back entirely when it
     * throws (the exception propagates). Transactions do not nest; calling the store itself from inside the body
     * is refused, because that would commit half of the outer transaction.
     */
    public void transaction(Consumer<Tx> body) {
        call(tx -> {
            body.accept(tx);
            return null;
        });
    }

    /** Like {@link #transaction} but returns the body's result. */
    public <T> T call(Function<Tx, T> body) {
        lock.lock();
        try {
            if (lock.getHoldCount() > 1) {
                throw new IllegalStateException("nested state store transaction; use the Tx you were given");
            }
            if (closed) {
                throw new IllegalStateException("state store " + dbFile + " is closed");
            }
            return inTransaction(body);
        } finally {
            lock.unlock();
        }
    }

    private <T> T inTransaction(Function<Tx, T> body) {
        SqlTx tx = new SqlTx(conn);
        try (Statement s = conn.createStatement()) {
            s.execute("BEGIN IMMEDIATE");
            try {
                T result = body.apply(tx);
                s.execute("COMMIT");
                return result;
            } catch (Throwable t) {
                rollback(s, t);
                throw t;
            }
        } catch (SQLException e) {
            throw new StateStoreException("state database " + dbFile + ": " + e.getMessage(), e);
        } finally {
            tx.end();
        }
    }

    private static void rollback(Statement s, Throwable cause) {
        try {
            s.execute("ROLLBACK");
        } catch (SQLException e) {
            // "no transaction is active": a failed COMMIT may already have rolled back.
            cause.addSuppressed(e);
        }
    }

    /** {@code PRAGMA integrity_check}: a single "ok" when the database is sound. */
    public List<String> integrityCheck() {
        lock.lock();
        try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery("PRAGMA integrity_check")) {
            List<String> out = new ArrayList<>();
            while (rs.next()) {
                out.add(rs.getString(1));
            }
            return out;
        } catch (SQLException e) {
            throw new StateStoreException("integrity check of " + dbFile + ": " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        lock.lock();
        try {
            if (!closed) {
                closed = true;
                conn.close(); // checkpoints the WAL into the main file
            }
        } catch (SQLException e) {
            throw new StateStoreException("closing " + dbFile + ": " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
    }

    private static void closeQuietly(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // already failing; the original error is what matters
            }
        }
    }

    private void run(Consumer<Tx> body) {
        transaction(body);
    }

    // ---- StateAccess: one committed transaction per call

    @Override
    public void putSandbox(SandboxRecord r) {
        run(tx -> tx.putSandbox(r));
    }

    @Override
    public void updateSandbox(SandboxRecord r) {
        run(tx -> tx.updateSandbox(r));
    }

    @Override
    public boolean deleteSandbox(String id) {
        return call(tx -> tx.deleteSandbox(id));
    }

    @Override
    public Optional<SandboxRecord> getSandbox(String id) {
        return call(tx -> tx.getSandbox(id));
    }

    @Override
    public List<SandboxRecord> listSandboxes() {
        return call(Tx::listSandboxes);
    }

    @Override
    public List<SandboxRecord> listSandboxes(String tenant) {
        return call(tx -> tx.listSandboxes(tenant));
    }

    @Override
    public void putContainer(ContainerRecord r) {
        run(tx -> tx.putContainer(r));
    }

    @Override
    public void updateContainer(ContainerRecord r) {
        run(tx -> tx.updateContainer(r));
    }

    @Override
    public boolean deleteContainer(String id) {
        return call(tx -> tx.deleteContainer(id));
    }

    @Override
    public Optional<ContainerRecord> getContainer(String id) {
        return call(tx -> tx.getContainer(id));
    }

    @Override
    public List<ContainerRecord> listContainers() {
        return call(Tx::listContainers);
    }

    @Override
    public List<ContainerRecord> listContainersBySandbox(String sandboxId) {
        return call(tx -> tx.listContainersBySandbox(sandboxId));
    }

    @Override
    public List<ContainerRecord> listContainersByTenant(String tenant) {
        return call(tx -> tx.listContainersByTenant(tenant));
    }

    @Override
    public void putExec(ExecRecord r) {
        run(tx -> tx.putExec(r));
    }

    @Override
    public void updateExec(ExecRecord r) {
        run(tx -> tx.updateExec(r));
    }

    @Override
    public boolean deleteExec(String containerId, String execId) {
        return call(tx -> tx.deleteExec(containerId, execId));
    }

    @Override
    public Optional<ExecRecord> getExec(String containerId, String execId) {
        return call(tx -> tx.getExec(containerId, execId));
    }

    @Override
    public List<ExecRecord> listExecs(String containerId) {
        return call(tx -> tx.listExecs(containerId));
    }

    @Override
    public TenantUsage usage(String tenant) {
        return call(tx -> tx.usage(tenant));
    }
}
