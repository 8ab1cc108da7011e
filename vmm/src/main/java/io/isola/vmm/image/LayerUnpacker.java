package io.isola.vmm.image;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/**
 * Writes a container root filesystem onto a host directory in QEMU's 9p mapped-xattr format (see
 * {@link MappedAttributes}): either by applying OCI image layers (tar, optionally gzip) in order, with
 * OCI whiteout semantics, or by copying a plain rootfs directory ({@link #copyTree}).
 *
 * <p>The host never holds what the guest's metadata says: files and directories are created by (and so
 * owned by) the unpacking process with the image's rwx bits but never set-uid/set-gid/sticky bits
 * (directories always keep u+rwx), symlinks become regular files (host mode 0600) holding their target,
 * and the image's full mode (type and all 12 permission bits), uid and gid go into
 * {@code user.virtfs.*} xattrs, which only QEMU interprets. So no image can plant a set-uid file or a
 * symlink that the host would honour.
 *
 * <p>Layer content is untrusted: names are normalized and must stay inside the root, no symlink (real or
 * mapped) is ever followed while creating, deleting or linking (see {@link RootPaths}), and entries are
 * streamed to disk, never held in memory. Device nodes, FIFOs and sockets are skipped and counted: crun
 * gives the container its own /dev anyway.
 *
 * <p>One instance per target root; not thread-safe.
 */
public final class LayerUnpacker {
    private static final String WHITEOUT = ".wh.";
    private static final String OPAQUE = ".wh..wh..opq";
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

    /** Totals over all layers applied so far. */
    public record Stats(int layers, long files, long directories, long symlinks, long hardlinks,
                        long whiteouts, long skippedSpecial, long bytes) {
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

    // Per layer: paths this layer created plus their ancestors. Whiteouts (and opaque directories) hide
    // only what lower layers put there, never this layer's own entries, whatever the entry order.
    private Set<String> touched;
    private List<DeferredDir> deferredDirs;

    /** Directory host mode and mtime are set after the layer: writing children would change the mtime again. */
    private record DeferredDir(Path path, int hostMode, FileTime mtime) {
    }

    /**
     * @param root the target directory; unless it already has mapped attributes, the guest sees it as
     *             mode 0755 owned by 0:0 (the host directory's own mode and owner stay as they are)
     */
    public LayerUnpacker(Path root) throws IOException {
        Optional<BasicFileAttributes> a = RootPaths.lstat(root);
        if (a.isEmpty() || !a.get().isDirectory()) {
            throw new ImageException("unpack target is not a directory: " + root);
        }
        this.root = root;
        if (!MappedAttributes.read(root).mapped()) {
            MappedAttributes.write(root, MappedAttributes.S_IFDIR | 0755, 0, 0);
        }
    }

    public Stats stats() {
        return new Stats(layers, files, directories, symlinks, hardlinks, whiteouts, skippedSpecial, bytes);
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
        finishDirs();
        layers++;
        byte[] buf = new byte[65536];
        while (diff.read(buf, 0, buf.length) >= 0) {
            // drain tar padding so the diff_id covers the whole uncompressed stream
        }
        return diff.digest();
    }

    private void finishDirs() throws IOException {
        for (int i = deferredDirs.size() - 1; i >= 0; i--) {
            DeferredDir d = deferredDirs.get(i);
            Optional<BasicFileAttributes> a = RootPaths.lstat(d.path);
            if (a.isPresent() && a.get().isDirectory()) { // a later entry may have replaced it
                Files.setAttribute(d.path, "unix:mode", d.hostMode, NOFOLLOW);
                setMtime(d.path, d.mtime);
            }
        }
        deferredDirs = new ArrayList<>();
    }

    /**
     * Copies a plain root filesystem directory (the user's own, trusted but never modified) into this
     * root, converting it to the mapped format like a layer: real symlinks become mapped symlinks, modes and
     * owners become xattrs, hardlinked files stay hardlinked. Symlinks in the source are never followed
     * (only the source directory itself is resolved); device nodes, FIFOs and sockets are skipped and
     * counted. Metadata already mapped in the source (a rootfs isola wrote earlier) is kept as the guest saw it.
     */
    public void copyTree(Path source) throws IOException {
        Path src = source.toRealPath();
        if (!Files.isDirectory(src, NOFOLLOW)) {
            throw new ImageException("not a directory: " + source);
        }
        if (root.toRealPath().startsWith(src)) {
            throw new ImageException("cannot copy root filesystem " + src + " into " + root + ", which is inside it");
        }
        deferredDirs = new ArrayList<>();
        Map<Object, Path> linked = new HashMap<>();
        Files.walkFileTree(src, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                if (!dir.equals(src)) {
                    MappedAttributes m = MappedAttributes.read(dir);
                    writeDir(target(dir), m.permissions(), m.uid(), m.gid(), attrs.lastModifiedTime());
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                copyEntry(file, attrs, target(file), linked);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) throws IOException {
                throw exc;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                if (exc != null) {
                    throw exc;
                }
                return FileVisitResult.CONTINUE;
            }

            private Path target(Path p) {
                Path t = root;
                for (Path c : src.relativize(p)) { // names from a directory listing: no "." or ".."
                    t = t.resolve(c.toString());
                }
                return t;
            }
        });
        finishDirs();
    }

    private void copyEntry(Path file, BasicFileAttributes attrs, Path target, Map<Object, Path> linked)
            throws IOException {
        if (!attrs.isSymbolicLink() && !attrs.isRegularFile()) {
            skippedSpecial++; // device node, FIFO, socket
            return;
        }
        MappedAttributes m = MappedAttributes.read(file);
        if (m.isSymlink()) {
            writeSymlink(target, MappedAttributes.readLink(file), m.uid(), m.gid(), attrs.lastModifiedTime());
            return;
        }
        if (m.mapped() && !m.isRegularFile()) {
            skippedSpecial++; // a device or FIFO a guest created earlier (mapped, so a plain file on the host)
            return;
        }
        Object key = attrs.fileKey();
        if (key != null && (Integer) Files.getAttribute(file, "unix:nlink", NOFOLLOW) > 1) {
            Path first = linked.putIfAbsent(key, target);
            if (first != null) {
                Files.createLink(target, first);
                hardlinks++;
                return;
            }
        }
        try (InputStream in = Files.newInputStream(file, StandardOpenOption.READ, NOFOLLOW)) {
            writeFile(target, in, m.permissions(), m.uid(), m.gid(), attrs.lastModifiedTime());
        }
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
        int uid = guestId(e.getLongUserId());
        int gid = guestId(e.getLongGroupId());
        if (e.isDirectory()) {
            writeDir(path, e.getMode() & 07777, uid, gid, e.getLastModifiedTime());
        } else if (e.isSymbolicLink()) {
            writeSymlink(path, e.getLinkName(), uid, gid, e.getLastModifiedTime());
        } else if (e.isLink()) {
            hardlink(path, e);
        } else {
            writeFile(path, tar, e.getMode() & 07777, uid, gid, e.getLastModifiedTime());
        }
    }

    /** A real directory (an existing one is kept, anything else there replaced); host mode set later. */
    private void writeDir(Path path, int perms, int uid, int gid, FileTime mtime) throws IOException {
        Optional<BasicFileAttributes> a = RootPaths.lstat(path);
        if (a.isPresent() && !a.get().isDirectory()) {
            Files.delete(path); // a file or a mapped symlink: removed, never followed
            a = Optional.empty();
        }
        if (a.isEmpty()) {
            Files.createDirectory(path);
        }
        MappedAttributes.write(path, MappedAttributes.S_IFDIR | perms, uid, gid);
        // The owner (the unpacking process) always keeps rwx on the host; no set-uid/set-gid/sticky there.
        deferredDirs.add(new DeferredDir(path, (perms & 0777) | 0700, mtime));
        directories++;
    }

    /** A mapped symlink: a regular file (host mode 0600) holding the target, marked S_IFLNK|0777. */
    private void writeSymlink(Path path, String target, int uid, int gid, FileTime mtime) throws IOException {
        byte[] t = target.getBytes(StandardCharsets.UTF_8);
        if (t.length == 0 || t.length > MappedAttributes.MAX_LINK_BYTES || target.indexOf('\0') >= 0) {
            throw new ImageException("invalid symlink target for " + Digest.printable(path.toString()) + ": "
                    + Digest.printable(target));
        }
        RootPaths.deleteRecursively(path);
        // The target is stored verbatim: it is resolved later, inside the container's own root.
        try (OutputStream out = Files.newOutputStream(path, StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE, NOFOLLOW)) {
            out.write(t);
        }
        MappedAttributes.write(path, MappedAttributes.SYMLINK_MODE, uid, gid);
        Files.setAttribute(path, "unix:mode", 0600, NOFOLLOW);
        setMtime(path, mtime);
        symlinks++;
    }

    /** A regular file: the image's rwx bits on the host, the full mode (set-uid etc.) only in the xattr. */
    private void writeFile(Path path, InputStream content, int perms, int uid, int gid, FileTime mtime)
            throws IOException {
        RootPaths.deleteRecursively(path);
        try (OutputStream out = Files.newOutputStream(path, StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE, NOFOLLOW)) {
            bytes += content.transferTo(out);
        }
        // xattrs before chmod: writing them opens the file for reading, which a 0000 mode would refuse
        // to an unprivileged unpacker.
        MappedAttributes.write(path, MappedAttributes.S_IFREG | perms, uid, gid);
        Files.setAttribute(path, "unix:mode", perms & 0777, NOFOLLOW);
        setMtime(path, mtime);
        files++;
    }

    /** uid/gid as the guest sees them: 32 bits; an id tar cannot express that way (or -1) becomes nobody. */
    private static int guestId(long id) {
        return id >= 0 && id < 0xFFFFFFFFL ? (int) id : 65534;
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
        // link(2) without AT_SYMLINK_FOLLOW: a symlink target is linked itself, never dereferenced (and a
        // mapped symlink is a plain file anyway). The link shares the inode's mapped xattrs.
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

    private static void setMtime(Path path, FileTime mtime) {
        try {
            Files.getFileAttributeView(path, BasicFileAttributeView.class, NOFOLLOW).setTimes(mtime, null, null);
        } catch (IOException ex) {
            // mtimes are cosmetic; some filesystems refuse them on symlinks
        }
    }
}
