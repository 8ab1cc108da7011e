package io.isola.vmm.state;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * The database schema and its version ({@code PRAGMA user_version}).
 *
 * <p>Each table has the columns that are queried or constrained (ids, tenant, state, sizes for quotas, the
 * foreign key) plus {@code doc}, the whole record as JSON ({@link RecordJson}); rows are decoded from {@code doc}
 * only. Adding a record field therefore needs no migration; a new column or table does: bump {@link #VERSION}
 * and add a step to {@link #MIGRATIONS}. A database written by a newer isolad is refused rather than guessed at.
 */
final class Schema {
    /** MIGRATIONS.get(i) takes the schema from version i to i+1. */
    private static final List<List<String>> MIGRATIONS = List.of(List.of(
            """
            CREATE TABLE sandboxes (
              id         TEXT PRIMARY KEY,
              tenant     TEXT NOT NULL,
              state      TEXT NOT NULL,
              vcpus      INTEGER NOT NULL,
              memory_mib INTEGER NOT NULL,
              doc        TEXT NOT NULL
            ) STRICT""",
            "CREATE INDEX sandboxes_tenant ON sandboxes(tenant)",
            """
            CREATE TABLE containers (
              id         TEXT PRIMARY KEY,
              sandbox_id TEXT NOT NULL REFERENCES sandboxes(id) ON DELETE CASCADE,
              tenant     TEXT NOT NULL,
              state      TEXT NOT NULL,
              doc        TEXT NOT NULL
            ) STRICT""",
            "CREATE INDEX containers_sandbox ON containers(sandbox_id)",
            "CREATE INDEX containers_tenant ON containers(tenant)",
            """
            CREATE TABLE execs (
              container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
              exec_id      TEXT NOT NULL,
              tenant       TEXT NOT NULL,
              state        TEXT NOT NULL,
              doc          TEXT NOT NULL,
              PRIMARY KEY (container_id, exec_id)
            ) STRICT"""));

    static final int VERSION = MIGRATIONS.size();

    private Schema() {
    }

    /** Creates or upgrades the schema in one transaction; the caller holds the only connection. */
    static void migrate(Connection c, String where) throws SQLException {
        int current = userVersion(c);
        if (current > VERSION) {
            throw new StateStoreException("state database " + where + " has schema version " + current
                    + ", newer than this isolad supports (" + VERSION + "); refusing to open it."
                    + " Run the isolad version that wrote it, or restore a backup.");
        }
        if (current == VERSION) {
            return;
        }
        try (Statement s = c.createStatement()) {
            s.execute("BEGIN IMMEDIATE");
            try {
                for (int v = current; v < VERSION; v++) {
                    for (String sql : MIGRATIONS.get(v)) {
                        s.execute(sql);
                    }
                }
                // PRAGMA cannot take a bound parameter; VERSION is our own int.
                s.execute("PRAGMA user_version = " + VERSION);
                s.execute("COMMIT");
            } catch (SQLException | RuntimeException e) {
                s.execute("ROLLBACK");
                throw e;
            }
        }
    }

    static int userVersion(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("PRAGMA user_version")) {
            return rs.next() ? rs.getInt(1) : 0;
        }
    }
}
