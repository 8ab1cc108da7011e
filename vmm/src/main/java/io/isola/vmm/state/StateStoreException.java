package io.isola.vmm.state;

/** The state store failed (SQL error, missing or duplicate record, unsupported schema). Unchecked: callers
 * cannot recover locally, the daemon fails the call (or refuses to start). */
public class StateStoreException extends RuntimeException {
    public StateStoreException(String message) {
        super(message);
    }

    public StateStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
