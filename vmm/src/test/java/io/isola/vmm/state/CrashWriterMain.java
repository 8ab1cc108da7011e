package io.isola.vmm.state;

import java.nio.file.Path;

/**
 * Child process for {@link StateStoreCrashTest}: puts records forever and announces each one after put returned.
 * The parent SIGKILLs it; every announced record must then be in the database.
 */
public final class CrashWriterMain {
    public static void main(String[] args) {
        StateStore store = StateStore.open(Path.of(args[0]));
        System.out.println("ready");
        System.out.flush();
        for (int k = 0; ; k++) {
            String sid = "s" + k;
            // alternate single puts and a multi-record transaction, both must be durable when they return
            if (k % 2 == 0) {
                store.putSandbox(Records.sandbox(sid, "t" + (k % 3)));
            } else {
                store.transaction(tx -> {
                    tx.putSandbox(Records.sandbox(sid, "t1"));
                    tx.putContainer(Records.container("c" + sid, sid, "t1"));
                });
            }
            System.out.println("committed " + k);
            System.out.flush();
        }
    }
}
