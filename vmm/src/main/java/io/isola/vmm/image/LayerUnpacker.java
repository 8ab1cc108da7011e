package io.isola.vmm.image;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/**
 * Applies OCI image layers (tar, optionally gzip) in order onto a host directory, with OCI whiteout
 * semantics. Layer content is untrusted: names are normalized and must stay inside the root, no
 * symlink is ever followed while creating, deleting or linking (see {@link RootPaths}), and entries
 * are streamed to disk, never held in memory. Device nodes and FIFOs are skipped and counted: the
 * rootfs is shared into the guest over 9p, and crun gives the container its own /dev anyway.
 *
 * <p>One instance per target root; not thread-safe.
 */
public final class LayerUnpacker {
    private static final String WHITEOUT = ".wh.";
    private static final String OPAQUE = ".wh..wh..opq";
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

    /** Totals over all layers applied so far. */
    public record Stats(int layers, long files, long directories, long symlinks, long hardlinks,
                        long whiteouts, long skippedSpecial, long bytes, boolean ownershipPreserved) {
    }

    private final Path root;
    private int layers;
    private long files;
    private long directories;
    private long symlinks;
    private long hardlinks;
    private long whiteouts;
    private long skippedSpecial;
    private long bytes;
    private boolean chownWorks = true;

    // Per layer: paths this layer created plus their ancestors. Whiteouts (and opaque directories) hide
    // only what lower layers put there, never this layer's own entries, whatever the entry order.
    private Set<String> touched;
    private List<DeferredDir> deferredDirs;

    /** Directory mode and mtime are set after the layer: writing children would change the mtime again. */
    private record DeferredDir(Path path, int mode, FileTime mtime) {
    }

    public LayerUnpacker(Path root) throws IOException {
        Optional<BasicFileAttributes> a = RootPaths.lstat(root);
        if (a.isEmpty() || !a.get().isDirectory()) {
            throw new ImageException("unpack target is not a directory: " + root);
        }
        this.root = root;
    }

    public Stats stats() {
        return new Stats(layers, files, directories, symlinks, hardlinks, whiteouts, skippedSpecial, bytes, chownWorks);
    }

    /**
     * Applies one layer. The stream is read as far as the tar needs plus its trailing padding; the caller
     * owns (and closes) it, and can verify the compressed digest afterwards.
     *
     * @param mediaType the descriptor's media type, or "" if unknown (compression is detected by magic bytes)
     * @param what      layer name for messages
     * @return the sha256 of the uncompressed tar (the layer's diff_id)
     */
    public Digest apply(InputStream layer, String mediaType, String what) throws IOException {
        BufferedInputStream in = new BufferedInputStream(layer, 65536);
        InputStream tarBytes = decompressor(in, mediaType == null ? "" : mediaType, what);
        VerifyingInputStream diff = new VerifyingInputStream(tarBytes, what);
        touched = new HashSet<>();
        deferredDirs = new ArrayList<>();
        // Not closed here: closing would close the caller's stream before it has verified it.
        TarArchiveInputStream tar = new TarArchiveInputStream(diff);
        TarArchiveEntry e;
        while ((e = nextEntry(tar, what)) != null) {
            applyEntry(tar, e);
        }
        for (int i = deferredDirs.size() - 1; i >= 0; i--) {
            DeferredDir d = deferredDirs.get(i);
            Optional<BasicFileAttributes> a = RootPaths.lstat(d.path);
            if (a.isPresent() && a.get().isDirectory()) { // a later entry may have replaced it
                Files.setAttribute(d.path, "unix:mode", d.mode, NOFOLLOW);
                setMtime(d.path, d.mtime);
            }
        }
        layers++;
        byte[] buf = new byte[65536];
        while (diff.read(buf, 0, buf.length) >= 0) {
            // drain tar padding so the diff_id covers the whole uncompressed stream
        }
        return diff.digest();
    }

    private static TarArchiveEntry nextEntry(TarArchiveInputStream tar, String what) throws ImageException {
        try {
            return tar.getNextEntry();
        } catch (IOException | RuntimeException ex) {
            throw new ImageException(what + ": corrupt tar: " + ex.getMessage(), ex);
        }
    }

    private static InputStream decompressor(BufferedInputStream in, String mediaType, String what)
            throws IOException {
        in.mark(8);
        byte[] magic = in.readNBytes(4);
        in.reset();
        boolean gzip = magic.length >= 2 && (magic[0] & 0xff) == 0x1f && (magic[1] & 0xff) == 0x8b;
        boolean zstd = magic.length == 4 && (magic[0] & 0xff) == 0x28 && (magic[1] & 0xff) == 0xb5
                && (magic[2] & 0xff) == 0x2f && (magic[3] & 0xff) == 0xfd;
        boolean bzip2 = magic.length >= 3 && magic[0] == 'B' && magic[1] == 'Z' && magic[2] == 'h';
        boolean xz = magic.length >= 4 && (magic[0] & 0xff) == 0xfd && magic[1] == '7' && magic[2] == 'z' && magic[3] == 'X';
        if (zstd || mediaType.endsWith("zstd") || bzip2 || xz) {
            throw new ImageException(what + ": unsupported layer compression ("
                    + (zstd || mediaType.endsWith("zstd") ? "zstd" : bzip2 ? "bzip2" : "xz")
                    + "); isola unpacks tar and tar+gzip layers");
        }
        if (gzip) {
            // Concatenated members: some tools write a layer as several gzip members.
            return GzipCompressorInputStream.builder().setInputStream(in).setDecompressConcatenated(true).get();
        }
        if (mediaType.endsWith("gzip")) {
            throw new ImageException(what + ": media type says gzip but the blob is not gzip data");
        }
        return in;
    }

    private void applyEntry(TarArchiveInputStream tar, TarArchiveEntry e) throws IOException {
        String name = e.getName();
        List<String> comps = RootPaths.entryComponents(name);
        if (comps.isEmpty()) {
            return; // the root itself ("./"): its metadata belongs to the host side
        }
        String base = comps.get(comps.size() - 1);
        if (base.startsWith(WHITEOUT)) {
            whiteout(comps, base, name);
            return;
        }
        if (e.isCharacterDevice() || e.isBlockDevice() || e.isFIFO()) {
            skippedSpecial++;
            return;
        }
        if (!(e.isDirectory() || e.isSymbolicLink() || e.isLink() || isRegular(e))) {
            return; // other types (global pax headers, volume labels, ...) carry no file
        }
        Path parent = RootPaths.parentDir(root, comps, true, name).orElseThrow();
        Path path = parent.resolve(base);
        markTouched(comps);
        if (e.isDirectory()) {
            Optional<BasicFileAttributes> a = RootPaths.lstat(path);
            if (a.isPresent() && !a.get().isDirectory()) {
                Files.delete(path);
                a = Optional.empty();
            }
            if (a.isEmpty()) {
                Files.createDirectory(path);
            }
            chown(path, e);
            deferredDirs.add(new DeferredDir(path, e.getMode() & 07777, e.getLastModifiedTime()));
            directories++;
        } else if (e.isSymbolicLink()) {
            RootPaths.deleteRecursively(path);
            // The target is stored verbatim: it is resolved later, inside the container's own root.
            Files.createSymbolicLink(path, Path.of(e.getLinkName()));
            chown(path, e);
            setMtime(path, e.getLastModifiedTime());
            symlinks++;
        } else if (e.isLink()) {
            hardlink(path, e);
        } else {
            RootPaths.deleteRecursively(path);
            try (OutputStream out = Files.newOutputStream(path, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE, NOFOLLOW)) {
                bytes += tar.transferTo(out);
            }
            chown(path, e); // before chmod: chown clears setuid/setgid bits
            Files.setAttribute(path, "unix:mode", e.getMode() & 07777, NOFOLLOW);
            setMtime(path, e.getLastModifiedTime());
            files++;
        }
    }

    /** TarArchiveEntry.isFile() is true for anything not a directory (FIFOs too), so test the type flag. */
    private static boolean isRegular(TarArchiveEntry e) {
        byte f = e.getLinkFlag();
        return f == TarConstants.LF_NORMAL || f == TarConstants.LF_OLDNORM || f == TarConstants.LF_CONTIG
                || f == TarConstants.LF_GNUTYPE_SPARSE;
    }

    private void hardlink(Path path, TarArchiveEntry e) throws IOException {
        String link = e.getLinkName();
        List<String> target;
        try {
            target = RootPaths.entryComponents(link);
        } catch (ImageException ex) {
            throw new ImageException("hardlink target escapes the root filesystem: " + Digest.printable(e.getName())
                    + " -> " + Digest.printable(link));
        }
        if (target.isEmpty()) {
            throw new ImageException("hardlink to the root directory: " + Digest.printable(e.getName()));
        }
        Optional<Path> targetParent = RootPaths.parentDir(root, target, false, link);
        Path targetPath = targetParent.map(p -> p.resolve(target.get(target.size() - 1))).orElse(null);
        Optional<BasicFileAttributes> ta = targetPath == null ? Optional.empty() : RootPaths.lstat(targetPath);
        if (ta.isEmpty()) {
            throw new ImageException("hardlink target not found (it must come earlier in the layers): "
                    + Digest.printable(e.getName()) + " -> " + Digest.printable(link));
        }
        if (ta.get().isDirectory()) {
            throw new ImageException("hardlink to a directory: " + Digest.printable(e.getName()));
        }
        if (targetPath.equals(path)) {
            return;
        }
        RootPaths.deleteRecursively(path);
        // link(2) without AT_SYMLINK_FOLLOW: a symlink target is linked itself, never dereferenced.
        Files.createLink(path, targetPath);
        hardlinks++;
    }

    private void whiteout(List<String> comps, String base, String name) throws IOException {
        Optional<Path> parent = RootPaths.parentDir(root, comps, false, name);
        whiteouts++;
        if (parent.isEmpty()) {
            return; // nothing below to hide
        }
        String parentRel = String.join("/", comps.subList(0, comps.size() - 1));
        if (base.equals(OPAQUE)) {
            markTouched(comps.subList(0, comps.size() - 1));
            clearLower(parent.get(), parentRel);
            return;
        }
        if (base.startsWith(WHITEOUT + WHITEOUT)) {
            return; // other AUFS metadata (.wh..wh.plnk, ...): not content
        }
        String hidden = base.substring(WHITEOUT.length());
        if (hidden.isEmpty() || hidden.equals(".") || hidden.equals("..")) {
            throw new ImageException("invalid whiteout entry: " + Digest.printable(name));
        }
        String rel = parentRel.isEmpty() ? hidden : parentRel + "/" + hidden;
        if (!touched.contains(rel)) {
            RootPaths.deleteRecursively(parent.get().resolve(hidden));
        }
    }

    /** Opaque directory: remove everything lower layers put under dir, keeping this layer's entries. */
    private void clearLower(Path dir, String rel) throws IOException {
        List<Path> children;
        try (Stream<Path> s = Files.list(dir)) {
            children = s.toList();
        }
        for (Path child : children) {
            String childRel = rel.isEmpty() ? child.getFileName().toString() : rel + "/" + child.getFileName();
            if (!touched.contains(childRel)) {
                RootPaths.deleteRecursively(child);
            } else if (RootPaths.lstat(child).map(BasicFileAttributes::isDirectory).orElse(false)) {
                clearLower(child, childRel);
            }
        }
    }

    private void markTouched(List<String> comps) {
        StringBuilder sb = new StringBuilder();
        for (String c : comps) {
            if (sb.length() > 0) {
                sb.append('/');
            }
            sb.append(c);
            touched.add(sb.toString());
        }
    }

    private void chown(Path path, TarArchiveEntry e) throws IOException {
        if (!chownWorks) {
            return;
        }
        long uid = e.getLongUserId();
        long gid = e.getLongGroupId();
        if (uid < 0 || uid > Integer.MAX_VALUE || gid < 0 || gid > Integer.MAX_VALUE) {
            return;
        }
        try {
            // NOFOLLOW: lchown, so a symlink's own owner is set, not its target's.
            Files.setAttribute(path, "unix:uid", (int) uid, NOFOLLOW);
            Files.setAttribute(path, "unix:gid", (int) gid, NOFOLLOW);
        } catch (FileSystemException ex) {
            // Not root (tests, rootless use): keep going with the caller's ownership.
            chownWorks = false;
        }
    }

    private static void setMtime(Path path, FileTime mtime) {
        try {
            Files.getFileAttributeView(path, BasicFileAttributeView.class, NOFOLLOW).setTimes(mtime, null, null);
        } catch (IOException ex) {
            // mtimes are cosmetic; some filesystems refuse them on symlinks
        }
    }
}
