package io.isola.vmm.logs;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * File layout of one log directory: segments {@code 000000000001.log}, {@code 000000000002.log}, ... and a
 * {@code closed} marker.
 *
 * <p>Rotation never renames: the writer starts segment n+1 and deletes the oldest. So a (segment, offset) position
 * stays valid across rotations, and a reader that sees segment n+1 knows segment n will not grow any more. Both
 * properties are what lets {@code follow} cross a rotation without losing or repeating a record.
 */
final class LogFiles {
    static final String CLOSED_MARKER = "closed";
    private static final String SUFFIX = ".log";

    private LogFiles() {
    }

    static Path segment(Path dir, long seq) {
        return dir.resolve(String.format("%012d%s", seq, SUFFIX));
    }

    static Path closedMarker(Path dir) {
        return dir.resolve(CLOSED_MARKER);
    }

    /** Sequence numbers of the segments present, ascending; empty if the directory does not exist (yet). */
    static List<Long> segments(Path dir) throws IOException {
        List<Long> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                String digits = name.substring(0, name.length() - SUFFIX.length());
                if (!digits.isEmpty() && digits.chars().allMatch(Character::isDigit)) {
                    out.add(Long.parseLong(digits));
                }
            }
        } catch (NoSuchFileException e) {
            return out;
        }
        Collections.sort(out);
        return out;
    }
}
