package io.isola.vmm.image;

import java.io.IOException;

/**
 * A problem with an image or a run request that the user can fix (bad layout, bad digest, unsafe
 * layer entry, missing command, unknown user). It is an IOException so that image code can let
 * plain I/O failures and format failures travel the same way; the message is meant for the user.
 */
public class ImageException extends IOException {
    private static final long serialVersionUID = 1L;

    public ImageException(String message) {
        super(message);
    }

    public ImageException(String message, Throwable cause) {
        super(message, cause);
    }
}
