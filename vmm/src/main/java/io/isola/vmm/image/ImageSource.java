package io.isola.vmm.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Optional;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Decides what the user's IMAGE argument is, from what is on disk (never from the name alone).
 */
public final class ImageSource {
    public enum Kind {
        /** Directory with {@code oci-layout} and {@code index.json}. */
        OCI_LAYOUT_DIR,
        /** Tar archive holding an OCI image layout. */
        OCI_LAYOUT_TAR,
        /** Any other directory: a ready root filesystem, copied (never modified) into the sandbox's own. */
        ROOTFS_DIR
    }

    private ImageSource() {
    }

    public static Kind detect(Path arg) throws IOException {
        // The user named this path: following a symlink at the top is what they mean.
        Optional<BasicFileAttributes> a;
        try {
            a = Optional.of(Files.readAttributes(arg, BasicFileAttributes.class));
        } catch (IOException e) {
            a = Optional.empty();
        }
        if (a.isEmpty()) {
            throw notAnImage(arg, "no such file or directory");
        }
        if (a.get().isDirectory()) {
            boolean layout = Files.isRegularFile(arg.resolve("oci-layout"), LinkOption.NOFOLLOW_LINKS);
            boolean index = Files.isRegularFile(arg.resolve("index.json"), LinkOption.NOFOLLOW_LINKS);
            if (layout && index) {
                return Kind.OCI_LAYOUT_DIR;
            }
            if (layout || index) {
                throw notAnImage(arg, "a directory with " + (layout ? "oci-layout but no index.json"
                        : "index.json but no oci-layout"));
            }
            if (isEmptyDir(arg)) {
                throw notAnImage(arg, "an empty directory");
            }
            return Kind.ROOTFS_DIR;
        }
        if (a.get().isRegularFile()) {
            if (looksLikeTar(arg)) {
                try (TarBlobStore t = new TarBlobStore(arg)) {
                    if (t.contains("oci-layout") && t.contains("index.json")) {
                        return Kind.OCI_LAYOUT_TAR;
                    }
                }
                throw notAnImage(arg, "a tar archive without oci-layout and index.json at its top"
                        + " (a root filesystem tarball must be extracted first)");
            }
            throw notAnImage(arg, "a file that is not a tar archive"
                    + (isGzip(arg) ? " (gzip-compressed: decompress it first)" : ""));
        }
        throw notAnImage(arg, "neither a regular file nor a directory");
    }

    static ImageException notAnImage(Path arg, String found) {
        return new ImageException("IMAGE must be an OCI image layout (directory or .tar) or a root filesystem"
                + " directory: " + arg + " is " + found);
    }

    private static boolean isEmptyDir(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    /** ustar/GNU/pax headers carry "ustar" at offset 257. */
    private static boolean looksLikeTar(Path f) throws IOException {
        byte[] h = head(f, 263);
        return h.length >= 262 && new String(h, 257, 5, java.nio.charset.StandardCharsets.US_ASCII).equals("ustar");
    }

    private static boolean isGzip(Path f) throws IOException {
        byte[] h = head(f, 2);
        return h.length == 2 && (h[0] & 0xff) == 0x1f && (h[1] & 0xff) == 0x8b;
    }

    private static byte[] head(Path f, int n) throws IOException {
        try (InputStream in = Files.newInputStream(f)) {
            return in.readNBytes(n);
        }
    }
}
