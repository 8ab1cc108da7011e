package io.isola.vmm.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGKILL a writer mid-way: everything it was told is committed must be there, and the file must be sound. */
class StateStoreCrashTest {
    @TempDir
    Path tmp;

    @Test
    void everyAnnouncedCommitSurvivesSigkill() throws Exception {
        Path db = tmp.resolve("isolad.db");
        for (int round = 0; round < 3; round++) { // later rounds also reopen a db left by a killed writer
            int last = runAndKill(db, 40 + 25 * round);
            try (StateStore store = StateStore.open(db)) {
                assertEquals(List.of("ok"), store.integrityCheck());
                for (int k = 0; k <= last; k++) {
                    assertTrue(store.getSandbox("s" + k).isPresent(), "round " + round + ": lost s" + k);
                    if (k % 2 == 1) {
                        assertTrue(store.getContainer("cs" + k).isPresent(), "lost container of s" + k);
                    }
                }
                // empty the db so the next child starts from k=0 again on a reused, once-crashed file
                store.transaction(tx -> tx.listSandboxes().forEach(s -> tx.deleteSandbox(s.id())));
            }
        }
    }

    /** Starts the child, waits for at least {@code atLeast} commits, kills it; returns the last announced k. */
    private static int runAndKill(Path db, int atLeast) throws Exception {
        Process p = new ProcessBuilder(javaBin(), "-cp", testClasspath(), CrashWriterMain.class.getName(),
                db.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        int last = -1;
        try (BufferedReader out = new BufferedReader(
                new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                if (line.startsWith("committed ")) {
                    last = Integer.parseInt(line.substring("committed ".length()));
                    if (last >= atLeast) {
                        p.destroyForcibly(); // SIGKILL; lines already read stay the ground truth
                        break;
                    }
                }
            }
        } finally {
            p.destroyForcibly();
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        }
        assertTrue(last >= atLeast, "child died early after " + last + " commits");
        return last;
    }

    private static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** Surefire may hand us a manifest-only jar; the code sources of the classes we need are explicit. */
    static String testClasspath() throws Exception {
        Set<String> cp = new LinkedHashSet<>();
        for (Class<?> c : new Class<?>[] {CrashWriterMain.class, StateStore.class, org.sqlite.JDBC.class,
                com.fasterxml.jackson.databind.ObjectMapper.class, com.fasterxml.jackson.core.JsonParser.class,
                com.fasterxml.jackson.annotation.JsonProperty.class}) {
            cp.add(Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
        }
        cp.add(System.getProperty("java.class.path"));
        return String.join(File.pathSeparator, cp);
    }
}
