package io.isola.vmm.image;

import io.isola.vmm.util.FileTrees;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Path handling inside a container root filesystem on the host. Image content is untrusted: a name or
 * a symlink in it must never make the host read, write or delete outside the root. Two tools:
 * <ul>
 * <li>{@link #entryComponents} + {@link #parentDir} for unpacking: names are normalized lexically and
 * every parent must be a real directory (symlinks are never followed while creating).</li>
 * <li>{@link #resolveInRoot} for reading a file the way the container would see it (e.g. /etc/passwd):
 * symlinks are followed but interpreted inside the root, as by chroot.</li>
 * </ul>
 * The root is in QEMU's mapped-xattr format (see {@link MappedAttributes}): a symlink is a regular host
 * file marked {@code S_IFLNK} in its xattrs. Both tools treat such a file exactly like a symlink (and still
 * treat a real host symlink as one too).
 * Both assume nothing else modifies the tree meanwhile (it is unpacked or read before the guest runs).
 */
final class RootPaths {
    private static final int MAX_SYMLINK_HOPS = 40;

    private RootPaths() {
    }

    /**
     * Splits a tar entry name into normalized components. Leading "/" and "./" are dropped (absolute
     * names are relative to the root); "." is dropped; ".." pops, and popping past the root is an error.
     * An empty result names the root itself.
     */
    static List<String> entryComponents(String name) throws ImageException {
        List<String> out = new ArrayList<>();
        for (String c : name.split("/")) {
            if (c.isEmpty() || c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                if (out.isEmpty()) {
                    throw new ImageException("layer entry escapes the root filesystem: " + Digest.printable(name));
                }
                out.remove(out.size() - 1);
                continue;
            }
            if (c.indexOf('\0') >= 0) {
                throw new ImageException("layer entry name contains NUL: " + Digest.printable(name));
            }
            out.add(c);
        }
        return out;
    }

    /**
     * Returns the directory that holds {@code comps}' last component, checking that every parent is a real
     * directory inside root (never a symlink, real or mapped). Missing parents are created (guest mode
     * 0755, owner 0:0) when {@code create}, else the result is empty.
     */
    static Optional<Path> parentDir(Path root, List<String> comps, boolean create, String entryName)
            throws IOException {
        Path dir = root;
        for (int i = 0; i < comps.size() - 1; i++) {
            dir = dir.resolve(comps.get(i));
            Optional<BasicFileAttributes> a = lstat(dir);
            if (a.isEmpty()) {
                if (!create) {
                    return Optional.empty();
                }
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
                MappedAttributes.write(dir, MappedAttributes.S_IFDIR | 0755, 0, 0);
                continue;
            }
            if (a.get().isSymbolicLink() || (a.get().isRegularFile() && MappedAttributes.isSymlink(dir))) {
                throw new ImageException("layer entry escapes the root filesystem through a symlink: "
                        + Digest.printable(entryName));
            }
            if (!a.get().isDirectory()) {
                throw new ImageException("layer entry " + Digest.printable(entryName) + ": "
                        + String.join("/", comps.subList(0, i + 1)) + " is not a directory");
            }
        }
        return Optional.of(dir);
    }

    static Optional<BasicFileAttributes> lstat(Path p) throws IOException {
        try {
            return Optional.of(Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
    }

    /**
     * Deletes p and, if it is a real directory, everything under it; symlinks are removed, never followed
     * (a mapped symlink is a regular file anyway).
     */
    static void deleteRecursively(Path p) throws IOException {
        FileTrees.deleteTree(p);
    }

    /**
     * Resolves an absolute container path to a host path inside root, following symlinks as the container
     * would see them (absolute targets start again at root, ".." stops at root). Mapped symlinks are read
     * from their content, real ones with readlink. The returned path has no symlink (of either kind) left
     * in it unless a hop limit is hit (an error); it may not exist.
     */
    static Path resolveInRoot(Path root, String containerPath) throws ImageException, IOException {
        List<String> pending = new ArrayList<>(List.of(containerPath.split("/")));
        List<String> done = new ArrayList<>();
        int hops = 0;
        while (!pending.isEmpty()) {
            String c = pending.remove(0);
            if (c.isEmpty() || c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                if (!done.isEmpty()) {
                    done.remove(done.size() - 1);
                }
                continue;
            }
            Path candidate = join(root, done).resolve(c);
            if (MappedAttributes.isSymlink(candidate)) {
                if (++hops > MAX_SYMLINK_HOPS) {
                    throw new ImageException("too many symlinks resolving " + containerPath + " in the root filesystem");
                }
                String target = MappedAttributes.readLink(candidate);
                if (target.startsWith("/")) {
                    done.clear();
                }
                List<String> t = new ArrayList<>(List.of(target.split("/")));
                t.addAll(pending);
                pending = t;
                continue;
            }
            done.add(c);
        }
        return join(root, done);
    }

    private static Path join(Path root, List<String> comps) {
        Path p = root;
        for (String c : comps) {
            p = p.resolve(c);
        }
        return p;
    }
}
