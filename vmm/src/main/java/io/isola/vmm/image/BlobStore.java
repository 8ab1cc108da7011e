package io.isola.vmm.image;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;

/**
 * Raw access to the files of an OCI image layout, wherever they live (a directory or a tar).
 * Callers verify what they read; a store only finds bytes by validated name.
 */
interface BlobStore extends Closeable {
    /** Opens {@code oci-layout}, {@code index.json} or a blob; throws ImageException if absent. */
    InputStream open(String layoutPath) throws IOException;

    default InputStream openBlob(Digest digest) throws IOException {
        return open(digest.layoutPath());
    }

    /** Human-readable location for error messages. */
    String describe();
}
