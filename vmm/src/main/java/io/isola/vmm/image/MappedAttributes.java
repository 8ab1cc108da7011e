package io.isola.vmm.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotLinkException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The guest's view of a file in a root filesystem that QEMU shares over virtio-9p with
 * {@code security_model=mapped-xattr} (hw/9pfs/9p-local.c). In that model the host files carry the
 * guest's metadata in user xattrs, and the host's own owner and mode bits are never shown to the guest:
 * <ul>
 * <li>{@code user.virtfs.mode}: the whole guest {@code st_mode} (file type bits and all 12 permission
 * bits), 4 bytes little-endian; QEMU's local_lstat/local_fstat replace {@code st_mode} with it wholesale.</li>
 * <li>{@code user.virtfs.uid}, {@code user.virtfs.gid}: 4 bytes little-endian each.</li>
 * <li>{@code user.virtfs.rdev}: 8 bytes little-endian (device nodes only; isola writes none).</li>
 * <li>A symlink is a regular host file whose content is the link target and whose mapped mode is
 * {@code S_IFLNK|0777} (local_symlink, local_readlink). A real host symlink is unusable by the guest:
 * QEMU opens it with O_NOFOLLOW and gets ELOOP.</li>
 * </ul>
 * A field whose xattr is missing (or has the wrong size: QEMU's getxattr into a 4-byte buffer then fails
 * with ERANGE) falls back to the host's stat value. The guest cannot read or write {@code user.virtfs.*}
 * (9p-xattr-user.c hides them), and a set-uid guest mode is only ever an xattr: the host never holds a
 * set-uid or device file on the guest's behalf.
 *
 * @param mode   guest st_mode (type and permission bits)
 * @param uid    guest owner
 * @param gid    guest group
 * @param mapped true if the mode came from {@code user.virtfs.mode} (false: host stat fallback)
 */
public record MappedAttributes(int mode, int uid, int gid, boolean mapped) {
    public static final int S_IFMT = 0170000;
    public static final int S_IFSOCK = 0140000;
    public static final int S_IFLNK = 0120000;
    public static final int S_IFREG = 0100000;
    public static final int S_IFBLK = 0060000;
    public static final int S_IFDIR = 0040000;
    public static final int S_IFCHR = 0020000;
    public static final int S_IFIFO = 0010000;

    /** The mode QEMU gives a symlink it creates in mapped mode, and the one isola writes. */
    public static final int SYMLINK_MODE = S_IFLNK | 0777;
    /** Longest symlink target (PATH_MAX - 1): QEMU's readlink reads at most PATH_MAX bytes. */
    public static final int MAX_LINK_BYTES = 4095;

    // Attribute names for UserDefinedFileAttributeView: the JDK adds the "user." namespace prefix.
    static final String MODE = "virtfs.mode";
    static final String UID = "virtfs.uid";
    static final String GID = "virtfs.gid";
    static final String RDEV = "virtfs.rdev";

    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

    public int type() {
        return mode & S_IFMT;
    }

    /** The 12 permission bits (rwx for user/group/other, set-uid, set-gid, sticky). */
    public int permissions() {
        return mode & 07777;
    }

    public boolean isSymlink() {
        return type() == S_IFLNK;
    }

    public boolean isDirectory() {
        return type() == S_IFDIR;
    }

    public boolean isRegularFile() {
        return type() == S_IFREG;
    }

    /** Reads what the guest sees for p (never following a symlink); NoSuchFileException if it is missing. */
    public static MappedAttributes read(Path p) throws IOException {
        Map<String, Object> host = Files.readAttributes(p, "unix:mode,uid,gid", NOFOLLOW);
        int hostMode = (Integer) host.get("mode");
        int mode = hostMode;
        int uid = (Integer) host.get("uid");
        int gid = (Integer) host.get("gid");
        boolean mapped = false;
        int hostType = hostMode & S_IFMT;
        // Only regular files and directories: reading xattrs opens the file (O_RDONLY|O_NOFOLLOW), which
        // would block on a FIFO or touch a device; a symlink cannot hold user xattrs at all.
        if (hostType == S_IFREG || hostType == S_IFDIR) {
            UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, NOFOLLOW);
            List<String> names = v.list();
            Integer m = names.contains(MODE) ? le32(v, MODE) : null;
            if (m != null) {
                mode = m;
                mapped = true;
            }
            Integer u = names.contains(UID) ? le32(v, UID) : null;
            if (u != null) {
                uid = u;
            }
            Integer g = names.contains(GID) ? le32(v, GID) : null;
            if (g != null) {
                gid = g;
            }
        }
        return new MappedAttributes(mode, uid, gid, mapped);
    }

    /** Like {@link #read}, but empty if p does not exist. */
    public static Optional<MappedAttributes> lstat(Path p) throws IOException {
        try {
            return Optional.of(read(p));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    /** True if the guest sees p as a symlink: a mapped one (regular host file) or a real host symlink. */
    public static boolean isSymlink(Path p) throws IOException {
        return lstat(p).map(MappedAttributes::isSymlink).orElse(false);
    }

    /**
     * The target of a symlink as the guest reads it: a mapped symlink's content, or a real host
     * symlink's target. NotLinkException if p is neither.
     */
    public static String readLink(Path p) throws IOException {
        MappedAttributes a = read(p);
        if (!a.isSymlink()) {
            throw new NotLinkException(p.toString());
        }
        if (!a.mapped) {
            return Files.readSymbolicLink(p).toString();
        }
        byte[] data;
        try (InputStream in = Files.newInputStream(p, StandardOpenOption.READ, NOFOLLOW)) {
            data = in.readNBytes(MAX_LINK_BYTES + 1);
        }
        if (data.length > MAX_LINK_BYTES) {
            throw new ImageException("symlink target longer than " + MAX_LINK_BYTES + " bytes: " + p);
        }
        return new String(data, StandardCharsets.UTF_8);
    }

    /**
     * Writes the guest's mode (with its file type bits), uid and gid as QEMU's mapped-xattr xattrs on p, a
     * regular file or directory (never a symlink: the write is O_NOFOLLOW). The host's own mode and owner
     * are left alone.
     */
    public static void write(Path p, int mode, int uid, int gid) throws IOException {
        UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, NOFOLLOW);
        try {
            v.write(UID, le32(uid));
            v.write(GID, le32(gid));
            v.write(MODE, le32(mode));
        } catch (FileSystemException e) {
            String why = e.getReason() == null ? e.toString() : e.getReason();
            throw new ImageException("cannot record file ownership and mode for the guest in user xattrs on "
                    + p + " (" + why + "); the rootfs directory must be on a filesystem with user extended"
                    + " attributes (ext4, xfs, btrfs)", e);
        }
    }

    static ByteBuffer le32(int v) {
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v);
        b.flip();
        return b;
    }

    private static Integer le32(UserDefinedFileAttributeView v, String name) throws IOException {
        if (v.size(name) != 4) {
            return null; // QEMU's getxattr into a 4-byte buffer fails (ERANGE) or reads garbage: ignore
        }
        ByteBuffer b = ByteBuffer.allocate(4);
        if (v.read(name, b) != 4) {
            return null;
        }
        b.flip();
        return b.order(ByteOrder.LITTLE_ENDIAN).getInt();
    }
}
