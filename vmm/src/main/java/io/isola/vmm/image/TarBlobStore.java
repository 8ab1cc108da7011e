package io.isola.vmm.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarFile;

/**
 * An OCI image layout packed in an (uncompressed) tar, as written by {@code docker save},
 * {@code skopeo copy oci-archive:} or {@code ctr export}. Blobs are read in place through
 * {@link TarFile}'s random access: nothing is extracted, so no scratch space is needed.
 */
final class TarBlobStore implements BlobStore {
    /** A layout has a handful of files per layer; this bounds the header index held in memory. */
    static final int MAX_ENTRIES = 100_000;

    private final Path tar;
    private final TarFile file;
    private final Map<String, TarArchiveEntry> entries = new HashMap<>();

    TarBlobStore(Path tar) throws IOException {
        this.tar = tar;
        TarFile f;
        try {
            f = new TarFile(tar);
        } catch (IOException | RuntimeException e) {
            throw new ImageException("cannot read " + tar + " as a tar archive: " + e.getMessage(), e);
        }
        this.file = f;
        if (f.getEntries().size() > MAX_ENTRIES) {
            f.close();
            throw new ImageException(tar + " has more than " + MAX_ENTRIES + " entries; not an OCI image layout");
        }
        for (TarArchiveEntry e : f.getEntries()) {
            if (e.isFile()) {
                // Later entries win, as when a tar is extracted.
                entries.put(normalize(e.getName()), e);
            }
        }
    }

    private static String normalize(String name) {
        String n = name;
        while (n.startsWith("./")) {
            n = n.substring(2);
        }
        while (n.startsWith("/")) {
            n = n.substring(1);
        }
        return n;
    }

    boolean contains(String layoutPath) {
        return entries.containsKey(layoutPath);
    }

    @Override
    public InputStream open(String layoutPath) throws IOException {
        TarArchiveEntry e = entries.get(layoutPath);
        if (e == null) {
            throw new ImageException("image archive " + tar + " has no " + layoutPath);
        }
        return file.getInputStream(e);
    }

    @Override
    public String describe() {
        return tar.toString();
    }

    @Override
    public void close() throws IOException {
        file.close();
    }
}
