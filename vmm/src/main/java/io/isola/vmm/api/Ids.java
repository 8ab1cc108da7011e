package io.isola.vmm.api;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * Object ids (sandboxes, containers, processes): {@code [a-z0-9][a-z0-9_.-]{0,63}}. An id can never
 * be ".", "..", contain "/" or start with "-", so it is safe as a path component and a command argument.
 */
public final class Ids {

    public static final String PATTERN_TEXT = "[a-z0-9][a-z0-9_.-]{0,63}";
    private static final Pattern PATTERN = Pattern.compile(PATTERN_TEXT);
    private static final int ECHO_LIMIT = 64;
    private static final SecureRandom RANDOM = new SecureRandom();

    private Ids() {
    }

    public static boolean isValid(String id) {
        return id != null && PATTERN.matcher(id).matches();
    }

    /** A fresh id: 12 lowercase hex digits (48 random bits). */
    public static String generate() {
        byte[] b = new byte[6];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /**
     * Returns {@code id} if valid.
     *
     * @param kind what the id names, for the message ("sandbox id", "container id")
     * @throws StatusRuntimeException INVALID_ARGUMENT naming the (escaped, shortened) bad value
     */
    public static String validate(String id, String kind) {
        if (id == null || id.isEmpty()) {
            throw Status.INVALID_ARGUMENT.withDescription(kind + " is required").asRuntimeException();
        }
        if (!isValid(id)) {
            throw Status.INVALID_ARGUMENT.withDescription("invalid " + kind + " " + quote(id) + ": must match "
                    + PATTERN_TEXT + " (lowercase letters, digits, '_', '.', '-'; at most 64 characters)")
                    .asRuntimeException();
        }
        return id;
    }

    /** {@code id} validated, or a generated one if {@code id} is null or empty. */
    public static String validateOrGenerate(String id, String kind) {
        return id == null || id.isEmpty() ? generate() : validate(id, kind);
    }

    /**
     * Quotes untrusted text for an error message: printable ASCII kept (with '"' and '\' escaped), anything else
     * as \xNN / \\uNNNN, at most {@value #ECHO_LIMIT} input characters followed by a note of the full length.
     */
    public static String quote(String s) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), ECHO_LIMIT) + 16).append('"');
        int n = Math.min(s.length(), ECHO_LIMIT);
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c >= 0x20 && c < 0x7f) {
                b.append(c);
            } else if (c < 0x100) {
                b.append(String.format("\\x%02x", (int) c));
            } else {
                b.append(String.format("\\u%04x", (int) c));
            }
        }
        b.append('"');
        if (s.length() > n) {
            b.append("... (").append(s.length()).append(" characters)");
        }
        return b.toString();
    }
}
