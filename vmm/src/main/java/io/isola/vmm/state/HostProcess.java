package io.isola.vmm.state;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * Identifies a host process across an isolad restart. A pid alone may have been reused by the time isolad comes
 * back, so a stored QEMU is (pid, start time, boot id): the start time ({@code /proc/<pid>/stat} field 22, clock
 * ticks since boot) distinguishes processes that had the same pid within one boot, and the boot id says the
 * clock ticks belong to this boot (after a reboot every stored pid is stale).
 */
public final class HostProcess {
    private static final Path BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");
    /** Field 22 is the 20th field after the comm's closing parenthesis (fields 3.. are space separated). */
    private static final int START_TIME_INDEX_AFTER_COMM = 22 - 3;

    private HostProcess() {
    }

    /** The start time of {@code pid}, or empty if there is no such process (or it is gone mid-read). */
    public static OptionalLong startTime(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.UTF_8);
            return OptionalLong.of(parseStartTime(stat));
        } catch (NoSuchFileException e) {
            return OptionalLong.empty();
        } catch (IOException e) {
            // ESRCH while reading: the process exited between open and read.
            return OptionalLong.empty();
        }
    }

    /**
     * Parses field 22 of a stat line. The comm field (2) is in parentheses and may itself contain spaces and
     * parentheses, e.g. {@code 42 ((a) b (c)) S ...}; the kernel does not escape them, so the only safe anchor is
     * the LAST ')' in the line.
     */
    public static long parseStartTime(String statLine) {
        int close = statLine.lastIndexOf(')');
        if (close < 0) {
            throw new IllegalArgumentException("not a /proc/<pid>/stat line: no ')'");
        }
        String[] fields = statLine.substring(close + 1).trim().split(" +");
        if (fields.length <= START_TIME_INDEX_AFTER_COMM) {
            throw new IllegalArgumentException("not a /proc/<pid>/stat line: only " + fields.length
                    + " fields after comm");
        }
        return Long.parseLong(fields[START_TIME_INDEX_AFTER_COMM]);
    }

    /** True if {@code pid} is alive and is the process that started at {@code startTime} (in this boot). */
    public static boolean isSameProcess(long pid, long startTime) {
        OptionalLong now = startTime(pid);
        return now.isPresent() && now.getAsLong() == startTime;
    }

    /** Like {@link #isSameProcess(long, long)}, and false when the record is from another host boot. */
    public static boolean isSameProcess(long pid, long startTime, String recordedBootId) {
        return Objects.equals(recordedBootId, bootId()) && isSameProcess(pid, startTime);
    }

    /** This boot's id, a random UUID the kernel makes at boot. */
    public static String bootId() {
        try {
            return Files.readString(BOOT_ID, StandardCharsets.US_ASCII).trim();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + BOOT_ID, e);
        }
    }
}
