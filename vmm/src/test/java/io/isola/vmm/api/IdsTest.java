package io.isola.vmm.api;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IdsTest {

    @ParameterizedTest
    @ValueSource(strings = {"a", "0", "web-1", "my_box.v2", "a..b", "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01"})
    void valid(String id) {
        assertEquals(id, Ids.validate(id, "sandbox id"));
    }

    @ParameterizedTest
    @ValueSource(strings = {".", "..", "-rf", "_x", "A", "a/b", "../etc", "a b", "é", "a\nb",
            "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz012"})
    void invalid(String id) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> Ids.validate(id, "sandbox id"));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().startsWith("invalid sandbox id \""), e.getStatus().getDescription());
        assertTrue(e.getStatus().getDescription().contains("[a-z0-9][a-z0-9_.-]{0,63}"));
    }

    @Test
    void emptyIsRequired() {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> Ids.validate("", "container id"));
        assertEquals("container id is required", e.getStatus().getDescription());
    }

    @Test
    void echoedInputIsEscapedAndCapped() {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> Ids.validate("a\u001b[31m\"\\\u2028" + "x".repeat(1000), "exec id"));
        String d = e.getStatus().getDescription();
        assertTrue(d.startsWith("invalid exec id \"a\\x1b[31m\\\"\\\\\\u2028xxx"), d);
        assertTrue(d.contains("\"... (1009 characters)"), d);
        assertFalse(d.chars().anyMatch(c -> c < 0x20 || c >= 0x7f), "raw control or non-ASCII char in: " + d);
        assertTrue(d.length() < 300, "not capped: " + d.length());
    }

    @Test
    void generatedIdsAre12HexAndValid() {
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            String id = Ids.generate();
            assertTrue(id.matches("[0-9a-f]{12}"), id);
            assertTrue(Ids.isValid(id));
            seen.add(id);
        }
        assertEquals(1000, seen.size());
    }

    @Test
    void validateOrGenerate() {
        assertTrue(Ids.validateOrGenerate("", "sandbox id").matches("[0-9a-f]{12}"));
        assertTrue(Ids.validateOrGenerate(null, "sandbox id").matches("[0-9a-f]{12}"));
        assertEquals("box", Ids.validateOrGenerate("box", "sandbox id"));
        assertThrows(StatusRuntimeException.class, () -> Ids.validateOrGenerate("Box", "sandbox id"));
    }
}
