package io.isola.vmm.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

/** An OCI image layout directory. Blob names are digests, so paths cannot leave the layout. */
final class DirBlobStore implements BlobStore {
    private final Path dir;

    DirBlobStore(Path dir) {
        this.dir = dir;
    }

    @Override
    public InputStream open(String layoutPath) throws IOException {
        Path p = dir.resolve(layoutPath);
        BasicFileAttributes a;
        try {
            // Registries and tools write plain files; a symlinked blob could point anywhere on the host.
            a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new ImageException("image layout " + dir + " has no " + layoutPath);
        }
        if (!a.isRegularFile()) {
            throw new ImageException("image layout " + dir + ": " + layoutPath + " is not a regular file");
        }
        return Files.newInputStream(p, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
    }

    @Override
    public String describe() {
        return dir.toString();
    }

    @Override
    public void close() {
        // nothing held open
    }
}
