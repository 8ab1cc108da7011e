package io.isola.vmm.logs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ContainerLogTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static List<String> texts(ContainerLog log) throws IOException {
        List<String> out = new ArrayList<>();
        log.read(c -> out.add(c.stream() + ":" + c.text()));
        return out;
    }

    private static List<Path> segmentFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".log")).sorted().toList();
        }
    }

    @Test
    void roundTripBothStreams() throws IOException {
        ContainerLog log = ContainerLog.at(ContainerLog.containerDir(tmp, "s1", "c1"));
        try (LogWriter w = log.openWriter()) {
            w.append(LogStream.STDOUT, b("hello\n"));
            w.append(LogStream.STDERR, b("oops\n"));
            w.append(LogStream.STDOUT, new byte[0]); // nothing to record: writes no frame
            w.append(LogStream.STDOUT, b("bye\n"));
        }
        assertEquals(List.of("STDOUT:hello\n", "STDERR:oops\n", "STDOUT:bye\n"), texts(log));
        assertTrue(log.isClosed());
        // readable again, and by a fresh object (another call, after the process exited)
        assertEquals(3, texts(ContainerLog.at(log.dir())).size());
    }

    @Test
    void largeAppendIsSplitAndReassemblesInOrder() throws IOException {
        ContainerLog log = ContainerLog.at(tmp.resolve("l"));
        byte[] big = new byte[300_000];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) (i * 31);
        }
        try (LogWriter w = log.openWriter()) {
            w.append(LogStream.STDERR, big);
        }
        ByteBuffer got = ByteBuffer.allocate(big.length);
        log.read(c -> got.put(c.data()));
        assertArrayEquals(big, got.array());
    }

    @Test
    void capAndRotationKeepNewestThreeFilesAndAnOrderedSuffix() throws IOException {
        ContainerLog log = ContainerLog.at(tmp.resolve("l"), 1000, 3);
        try (LogWriter w = log.openWriter()) {
            for (int i = 0; i < 500; i++) {
                w.append(LogStream.STDOUT, b(String.format("line %04d%n", i)));
            }
        }
        List<Path> files = segmentFiles(log.dir());
        assertEquals(3, files.size());
        for (Path f : files) {
            assertTrue(Files.size(f) <= 1000, f + " exceeds the cap");
        }
        List<String> lines = texts(log);
        int first = Integer.parseInt(lines.get(0).substring("STDOUT:line ".length()).trim());
        assertTrue(first > 0, "oldest records must have been dropped");
        for (int i = 0; i < lines.size(); i++) {
            assertEquals(String.format("STDOUT:line %04d%n", first + i), lines.get(i)); // contiguous up to 499
        }
        assertEquals(499, first + lines.size() - 1);
    }

    @Test
    void twentyMibThroughOneMibCapKeepsAtMostThreeMib() throws IOException {
        ContainerLog log = ContainerLog.at(tmp.resolve("l"), 1 << 20, 3);
        byte[] block = new byte[4096 + 123]; // not a divisor of the cap, so frames straddle the boundary
        long written = 0;
        try (LogWriter w = log.openWriter()) {
            while (written < 20L << 20) {
                w.append(LogStream.STDOUT, block);
                written += block.length;
            }
        }
        long onDisk = 0;
        for (Path f : segmentFiles(log.dir())) {
            onDisk += Files.size(f);
        }
        assertTrue(onDisk <= 3L << 20, "on disk: " + onDisk);
        assertTrue(onDisk > 2L << 20, "kept too little: " + onDisk);
        long[] read = {0};
        log.read(c -> read[0] += c.data().length);
        assertTrue(read[0] > 2L << 20 && read[0] <= onDisk);
    }

    @Test
    void tornLastRecordIsIgnoredAndTruncatedOnReopen() throws IOException {
        ContainerLog log = ContainerLog.at(tmp.resolve("l"));
        LogWriter w = log.openWriter();
        w.append(LogStream.STDOUT, b("one"));
        w.append(LogStream.STDERR, b("two"));
        // simulate a crash mid-append: no close(), and half a frame at the end
        Path seg = segmentFiles(log.dir()).get(0);
        long good = Files.size(seg);
        ByteBuffer torn = LogFrame.encode(LogStream.STDOUT, b("three-three"), 0, 11);
        torn.limit(LogFrame.HEADER + 4);
        try (var ch = Files.newByteChannel(seg, StandardOpenOption.APPEND)) {
            ch.write(torn);
        }
        assertEquals(List.of("STDOUT:one", "STDERR:two"), texts(log));

        // a tail of zeros (size grew, blocks never written) is torn too
        try (var ch = Files.newByteChannel(seg, StandardOpenOption.APPEND)) {
            ch.write(ByteBuffer.allocate(100));
        }
        assertEquals(List.of("STDOUT:one", "STDERR:two"), texts(log));

        try (LogWriter again = log.openWriter()) {
            assertEquals(good, Files.size(seg));
            again.append(LogStream.STDOUT, b("four"));
        }
        assertEquals(List.of("STDOUT:one", "STDERR:two", "STDOUT:four"), texts(log));
    }

    @Test
    void followDeliversLaterRecordsAndEndsWhenTheLogCloses() throws Exception {
        ContainerLog log = ContainerLog.at(tmp.resolve("l"));
        LogWriter w = log.openWriter();
        w.append(LogStream.STDOUT, b("before"));
        List<String> got = new CopyOnWriteArrayList<>();
        CompletableFuture<Void> follower = CompletableFuture.runAsync(() -> follow(log, got, () -> false));

        waitFor(() -> got.size() == 1);
        w.append(LogStream.STDERR, b("during"));
        waitFor(() -> got.size() == 2);
        assertFalse(follower.isDone());
        w.append(LogStream.STDOUT, b("last"));
        w.close();
        follower.get(5, TimeUnit.SECONDS);
        assertEquals(List.of("STDOUT:before", "STDERR:during", "STDOUT:last"), got);
    }

    @Test
    void followStopsWhenAsked() throws Exception {
        ContainerLog log = ContainerLog.at(tmp.resolve("l"));
        try (LogWriter w = log.openWriter()) {
            AtomicBoolean stop = new AtomicBoolean();
            CompletableFuture<Void> follower =
                    CompletableFuture.runAsync(() -> follow(log, new ArrayList<>(), stop::get));
            Thread.sleep(50);
            assertFalse(follower.isDone());
            stop.set(true);
            follower.get(2, TimeUnit.SECONDS);
        }
    }

    @Test
    void followAcrossRotationsLosesAndRepeatsNothing() throws Exception {
        // small files, many rotations, writer racing the follower; keep enough files that the follower
        // (which waits on the in-process signal) is never lapped
        ContainerLog log = ContainerLog.at(tmp.resolve("l"), 256, 3);
        int n = 5000;
        List<String> got = new CopyOnWriteArrayList<>();
        LogWriter w = log.openWriter();
        CompletableFuture<Void> follower = CompletableFuture.runAsync(() -> follow(log, got, () -> false));
        for (int i = 0; i < n; i++) {
            w.append(i % 2 == 0 ? LogStream.STDOUT : LogStream.STDERR, b("r" + i));
            if (i % 50 == 0) {
                waitFor(() -> got.size() > 0); // let the follower start early, then race
            }
            if (i % 20 == 0) {
                int target = i;
                waitFor(() -> got.size() >= target - 20); // stay within retention: 3 files x ~25 records
            }
        }
        w.close();
        follower.get(10, TimeUnit.SECONDS);
        assertEquals(n, got.size());
        for (int i = 0; i < n; i++) {
            assertEquals((i % 2 == 0 ? "STDOUT" : "STDERR") + ":r" + i, got.get(i));
        }
    }

    @Test
    void concurrentAppendsAreWholeRecords() throws Exception {
        ContainerLog log = ContainerLog.at(tmp.resolve("l"), 4096, 1000);
        try (LogWriter w = log.openWriter()) {
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int id = t;
                fs.add(CompletableFuture.runAsync(() -> {
                    for (int i = 0; i < 500; i++) {
                        try {
                            w.append(LogStream.STDOUT, b("t" + id + "-" + i));
                        } catch (IOException e) {
                            throw new RuntimeException(e);
                        }
                    }
                }));
            }
            CompletableFuture.allOf(fs.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
        }
        List<String> got = texts(log);
        assertEquals(2000, got.size());
        for (int t = 0; t < 4; t++) { // each thread's records in its own order
            int id = t;
            List<String> mine = got.stream().filter(s -> s.startsWith("STDOUT:t" + id + "-")).toList();
            for (int i = 0; i < 500; i++) {
                assertEquals("STDOUT:t" + id + "-" + i, mine.get(i));
            }
        }
    }

    private static void follow(ContainerLog log, List<String> sink, java.util.function.BooleanSupplier stop) {
        try {
            log.follow(c -> sink.add(c.stream() + ":" + c.text()), stop);
        } catch (IOException | InterruptedException e) {
            throw new RuntimeException(e);
        }
    }

    private static void waitFor(java.util.function.BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out");
            }
            Thread.sleep(1);
        }
    }
}
