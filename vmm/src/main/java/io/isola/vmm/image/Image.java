package io.isola.vmm.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A container image as the user gave it: an OCI image layout (directory or tar) or a plain root
 * filesystem directory. Opening reads and verifies index, manifest and config; layers are read
 * (and verified) only by {@link #unpackTo}.
 */
public final class Image implements AutoCloseable {
    private final Path path;
    private final ImageSource.Kind kind;
    private final BlobStore store; // null for a plain rootfs
    private final OciImageReader.Result oci; // null for a plain rootfs

    private Image(Path path, ImageSource.Kind kind, BlobStore store, OciImageReader.Result oci) {
        this.path = path;
        this.kind = kind;
        this.store = store;
        this.oci = oci;
    }

    /** Same as {@code open(imageArg, null)}. */
    public static Image open(Path imageArg) throws IOException {
        return open(imageArg, null);
    }

    /**
     * @param ref tag to pick from a layout that holds several images (matched against
     *            {@code org.opencontainers.image.ref.name}, or {@code io.containerd.image.name} whole or
     *            by its ":tag" suffix); null picks the only image, else the linux/amd64 one
     */
    public static Image open(Path imageArg, String ref) throws IOException {
        ImageSource.Kind kind = ImageSource.detect(imageArg);
        if (kind == ImageSource.Kind.ROOTFS_DIR) {
            return new Image(imageArg, kind, null, null);
        }
        BlobStore store = kind == ImageSource.Kind.OCI_LAYOUT_DIR ? new DirBlobStore(imageArg) : new TarBlobStore(imageArg);
        try {
            return new Image(imageArg, kind, store, new OciImageReader(store).read(ref));
        } catch (IOException | RuntimeException e) {
            store.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public ImageSource.Kind kind() {
        return kind;
    }

    /** The runtime-relevant image config; {@link ImageConfig#EMPTY} for a plain rootfs. */
    public ImageConfig config() {
        return oci == null ? ImageConfig.EMPTY : oci.config();
    }

    /** Digest of the chosen image manifest, if this is an OCI image. */
    public Optional<Digest> manifestDigest() {
        return oci == null ? Optional.empty() : Optional.of(oci.manifestDigest());
    }

    /** Layer descriptors in apply order (empty for a plain rootfs). */
    public List<Descriptor> layers() {
        return oci == null ? List.of() : oci.layers();
    }

    /**
     * Writes the root filesystem into {@code dir} (created if missing; must be empty) in QEMU's 9p
     * mapped-xattr format (see {@link MappedAttributes}). For an OCI image the layers are unpacked,
     * verifying every layer's digest, size and diff_id. A plain rootfs directory is copied (never shared in
     * place, never modified): its symlinks, modes and owners are converted the same way. On failure the
     * contents of {@code dir} are removed again.
     */
    public PreparedRootfs unpackTo(Path dir) throws IOException {
        Files.createDirectories(dir);
        try (var s = Files.list(dir)) {
            if (s.findAny().isPresent()) {
                throw new ImageException("unpack target " + dir + " is not empty");
            }
        }
        LayerUnpacker unpacker = new LayerUnpacker(dir);
        if (oci == null) {
            try {
                unpacker.copyTree(path);
            } catch (IOException | RuntimeException e) {
                clear(dir, e);
                throw e;
            }
            return new PreparedRootfs(dir, true, unpacker.stats());
        }
        try {
            List<Descriptor> layers = oci.layers();
            for (int i = 0; i < layers.size(); i++) {
                Descriptor l = layers.get(i);
                String what = "layer " + (i + 1) + "/" + layers.size() + " (" + l.digest() + ")";
                try (InputStream raw = store.openBlob(l.digest());
                     VerifyingInputStream in = new VerifyingInputStream(raw, what)) {
                    Digest diffId = unpacker.apply(in, l.mediaType(), what);
                    in.verify(l.digest(), l.size());
                    if (!oci.diffIds().isEmpty() && !oci.diffIds().get(i).equals(diffId)) {
                        throw new ImageException(what + ": uncompressed content is " + diffId
                                + " but the image config's diff_id is " + oci.diffIds().get(i));
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            clear(dir, e);
            throw e;
        }
        return new PreparedRootfs(dir, true, unpacker.stats());
    }

    private static void clear(Path dir, Exception cause) {
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                RootPaths.deleteRecursively(p);
            }
        } catch (IOException e) {
            cause.addSuppressed(e);
        }
    }

    @Override
    public void close() throws IOException {
        if (store != null) {
            store.close();
        }
    }
}
