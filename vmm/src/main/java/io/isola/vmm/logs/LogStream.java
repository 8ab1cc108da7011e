package io.isola.vmm.logs;

/** Which output of the container process a log record came from; {@link #code} is the byte stored in a frame. */
public enum LogStream {
    STDOUT(1), STDERR(2);

    final byte code;

    LogStream(int code) {
        this.code = (byte) code;
    }

    /** The stream for a stored byte, or null for a byte no writer produces (garbage, zero fill after a crash). */
    static LogStream ofCode(byte code) {
        return switch (code) {
            case 1 -> STDOUT;
            case 2 -> STDERR;
            default -> null;
        };
    }
}
