package io.isola.vmm.state;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StateStoreConcurrencyTest {
    @TempDir
    Path tmp;

    @Test
    void eightThreadsLoseNoUpdateAndNeverSeeBusy() throws Exception {
        int threads = 8;
        int perThread = 25;
        try (StateStore store = StateStore.open(tmp.resolve("isolad.db"))) {
            store.putSandbox(Records.sandbox("counter", "t").withVcpus(0));
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                futures.add(pool.submit(() -> {
                    go.await();
                    for (int i = 0; i < perThread; i++) {
                        // read-modify-write in one transaction: a lost update would show in the final count
                        store.transaction(tx -> {
                            SandboxRecord s = tx.getSandbox("counter").orElseThrow();
                            tx.updateSandbox(s.withVcpus(s.vcpus() + 1));
                        });
                        store.putContainer(Records.container("c" + id + "-" + i, "counter", "t"));
                        store.getContainer("c" + id + "-" + i).orElseThrow();
                        store.usage("t");
                    }
                    return null;
                }));
            }
            go.countDown();
            for (Future<?> f : futures) {
                f.get(); // rethrows any StateStoreException (SQLITE_BUSY included)
            }
            pool.shutdown();
            assertEquals(threads * perThread, store.getSandbox("counter").orElseThrow().vcpus());
            assertEquals(threads * perThread, store.listContainersBySandbox("counter").size());
        }
    }
}
