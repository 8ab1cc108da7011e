package io.isola.vmm.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class HostProcessTest {
    @Test
    void parsesStartTimeAfterTheLastParenthesis() {
        // comm "(a) b (c)": spaces and parentheses inside; field 22 (starttime) is 777
        String line = "1234 ((a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 1 0 777 1000 50"
                + " 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
        assertEquals(777, HostProcess.parseStartTime(line));
        assertThrows(IllegalArgumentException.class, () -> HostProcess.parseStartTime("1234 (x) S 1 2"));
    }

    @Test
    void recognisesItselfAndRejectsAWrongStartTime() {
        long pid = ProcessHandle.current().pid();
        long start = HostProcess.startTime(pid).orElseThrow();
        assertTrue(HostProcess.isSameProcess(pid, start));
        assertTrue(HostProcess.isSameProcess(pid, start, HostProcess.bootId()));
        assertFalse(HostProcess.isSameProcess(pid, start + 1));
        assertFalse(HostProcess.isSameProcess(pid, start, "some-other-boot"));
        assertFalse(HostProcess.isSameProcess(Integer.MAX_VALUE, start)); // above pid_max: no such process
    }

    @Test
    void bootIdIsAUuid() {
        assertTrue(Pattern.matches("[0-9a-f-]{36}", HostProcess.bootId()));
    }
}
