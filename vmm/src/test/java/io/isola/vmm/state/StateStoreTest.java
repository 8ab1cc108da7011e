package io.isola.vmm.state;

import static io.isola.vmm.state.Records.container;
import static io.isola.vmm.state.Records.exec;
import static io.isola.vmm.state.Records.sandbox;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StateStoreTest {
    @TempDir
    Path tmp;
    Path db;
    StateStore store;

    @BeforeEach
    void open() {
        db = tmp.resolve("state/isolad.db");
        store = StateStore.open(db);
    }

    @AfterEach
    void close() {
        store.close();
    }

    @Test
    void sandboxRoundTripAndUpdate() {
        SandboxRecord s = sandbox("s1", "t1");
        store.putSandbox(s);
        assertEquals(Optional.of(s), store.getSandbox("s1"));

        SandboxRecord stopped = s.withState(SandboxRecord.State.STOPPED, "user request");
        store.updateSandbox(stopped);
        assertEquals(Optional.of(stopped), store.getSandbox("s1"));
        assertEquals(Optional.empty(), store.getSandbox("nope"));
    }

    @Test
    void containerAndExecRoundTripAndUpdate() {
        store.putSandbox(sandbox("s1", "t1"));
        ContainerRecord c = container("c1", "s1", "t1");
        store.putContainer(c);
        assertEquals(Optional.of(c), store.getContainer("c1"));

        ContainerRecord exited = c.started(Instant.parse("2025-01-02T03:04:07Z"))
                .exited(137, true, Instant.parse("2025-01-02T03:05:00.5Z"));
        store.updateContainer(exited);
        assertEquals(Optional.of(exited), store.getContainer("c1"));

        ExecRecord e = exec("c1", "e1", "t1");
        store.putExec(e);
        assertEquals(Optional.of(e), store.getExec("c1", "e1"));
        ExecRecord done = e.exited(3, Instant.parse("2025-01-02T03:04:08Z"));
        store.updateExec(done);
        assertEquals(List.of(done), store.listExecs("c1"));
        assertTrue(store.deleteExec("c1", "e1"));
        assertFalse(store.deleteExec("c1", "e1"));
    }

    @Test
    void putTwiceOrUpdateMissingOrOrphanIsAnError() {
        store.putSandbox(sandbox("s1", "t1"));
        assertThrows(StateStoreException.class, () -> store.putSandbox(sandbox("s1", "t1")));
        assertThrows(StateStoreException.class, () -> store.updateSandbox(sandbox("s2", "t1")));
        // foreign keys are on: no container without its sandbox, no exec without its container
        assertThrows(StateStoreException.class, () -> store.putContainer(container("c1", "missing", "t1")));
        assertThrows(StateStoreException.class, () -> store.putExec(exec("missing", "e1", "t1")));
    }

    @Test
    void listsByTenantAndSandbox() {
        store.putSandbox(sandbox("s1", "t1"));
        store.putSandbox(sandbox("s2", "t1"));
        store.putSandbox(sandbox("s3", "t2"));
        store.putContainer(container("c1", "s1", "t1"));
        store.putContainer(container("c2", "s1", "t1"));
        store.putContainer(container("c3", "s3", "t2"));

        assertEquals(List.of("s1", "s2", "s3"), store.listSandboxes().stream().map(SandboxRecord::id).toList());
        assertEquals(List.of("s1", "s2"), store.listSandboxes("t1").stream().map(SandboxRecord::id).toList());
        assertEquals(List.of("c1", "c2"), store.listContainersBySandbox("s1").stream().map(ContainerRecord::id).toList());
        assertEquals(List.of("c3"), store.listContainersByTenant("t2").stream().map(ContainerRecord::id).toList());
        assertEquals(3, store.listContainers().size());
    }

    @Test
    void usageCountsOnlyCreatingAndRunningSandboxesOfTheTenant() {
        store.putSandbox(sandbox("s1", "t1")); // RUNNING 2 vcpu 512
        store.putSandbox(sandbox("s2", "t1").withState(SandboxRecord.State.CREATING, null).withVcpus(4));
        store.putSandbox(sandbox("s3", "t1").withState(SandboxRecord.State.STOPPED, "done"));
        store.putSandbox(sandbox("s4", "t1").withState(SandboxRecord.State.DIED, "oom"));
        store.putSandbox(sandbox("s5", "t2"));
        assertEquals(new TenantUsage(2, 6, 1024), store.usage("t1"));
        assertEquals(new TenantUsage(0, 0, 0), store.usage("nobody"));
    }

    @Test
    void deletingASandboxCascadesToContainersAndExecs() {
        store.putSandbox(sandbox("s1", "t1"));
        store.putSandbox(sandbox("s2", "t1"));
        store.putContainer(container("c1", "s1", "t1"));
        store.putContainer(container("c2", "s2", "t1"));
        store.putExec(exec("c1", "e1", "t1"));

        assertTrue(store.deleteSandbox("s1"));
        assertEquals(Optional.empty(), store.getContainer("c1"));
        assertEquals(List.of(), store.listExecs("c1"));
        assertEquals(List.of("c2"), store.listContainers().stream().map(ContainerRecord::id).toList());
        assertFalse(store.deleteSandbox("s1"));
    }

    @Test
    void transactionCommitsTogetherOrNotAtAll() {
        store.transaction(tx -> {
            tx.putSandbox(sandbox("s1", "t1"));
            tx.putContainer(container("c1", "s1", "t1"));
        });
        assertEquals(1, store.listContainers().size());

        RuntimeException boom = new RuntimeException("boom");
        RuntimeException thrown = assertThrows(RuntimeException.class, () -> store.transaction(tx -> {
            tx.putSandbox(sandbox("s2", "t1"));
            tx.putContainer(container("c2", "s2", "t1"));
            tx.deleteSandbox("s1");
            throw boom;
        }));
        assertEquals(boom, thrown);
        assertEquals(List.of("s1"), store.listSandboxes().stream().map(SandboxRecord::id).toList());
        assertEquals(List.of("c1"), store.listContainers().stream().map(ContainerRecord::id).toList());

        // a failing statement inside also rolls back what came before it
        assertThrows(StateStoreException.class, () -> store.transaction(tx -> {
            tx.putSandbox(sandbox("s3", "t1"));
            tx.putSandbox(sandbox("s1", "t1")); // duplicate
        }));
        assertEquals(Optional.empty(), store.getSandbox("s3"));
    }

    @Test
    void nestedUseAndEscapedTxAreRefused() {
        Tx[] escaped = new Tx[1];
        assertThrows(IllegalStateException.class, () -> store.transaction(tx -> {
            escaped[0] = tx;
            store.putSandbox(sandbox("s1", "t1"));
        }));
        assertThrows(IllegalStateException.class, () -> escaped[0].putSandbox(sandbox("s2", "t1")));
        assertEquals(List.of(), store.listSandboxes());
    }

    @Test
    void reopenAfterCloseSeesEverything() {
        store.putSandbox(sandbox("s1", "t1"));
        store.putContainer(container("c1", "s1", "t1"));
        store.putExec(exec("c1", "e1", "t1"));
        store.close();

        store = StateStore.open(db);
        assertEquals(Optional.of(sandbox("s1", "t1")), store.getSandbox("s1"));
        assertEquals(Optional.of(container("c1", "s1", "t1")), store.getContainer("c1"));
        assertEquals(Optional.of(exec("c1", "e1", "t1")), store.getExec("c1", "e1"));
        assertEquals(List.of("ok"), store.integrityCheck());
    }

    @Test
    void newerSchemaVersionIsRefused() throws Exception {
        store.close();
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement()) {
            s.execute("PRAGMA user_version = " + (Schema.VERSION + 1));
        }
        StateStoreException e = assertThrows(StateStoreException.class, () -> StateStore.open(db));
        assertTrue(e.getMessage().contains("newer than this isolad supports"), e.getMessage());
        store = StateStore.open(tmp.resolve("other.db")); // for @AfterEach
    }

    @Test
    void pragmasAreInEffect() throws Exception {
        store.putSandbox(sandbox("s1", "t1"));
        // WAL is persistent in the file; a second reader connection sees it and the committed row.
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db); Statement s = c.createStatement()) {
            var rs = s.executeQuery("PRAGMA journal_mode");
            rs.next();
            assertEquals("wal", rs.getString(1));
            rs = s.executeQuery("SELECT count(*) FROM sandboxes");
            rs.next();
            assertEquals(1, rs.getInt(1));
        }
    }
}
