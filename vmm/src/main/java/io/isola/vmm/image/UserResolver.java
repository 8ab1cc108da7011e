package io.isola.vmm.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Turns an image/CLI user spec ({@code user}, {@code user:group}, {@code uid}, {@code uid:gid}, empty =
 * root) into numeric ids, as docker does: names are looked up in the container's own /etc/passwd and
 * /etc/group (read inside the rootfs, symlinks - mapped ones included - confined to it, size-bounded), a numeric uid takes the
 * primary gid of its passwd entry if one exists (else 0), and supplementary groups come from /etc/group.
 */
public final class UserResolver {
    static final int MAX_DB_BYTES = 1024 * 1024;

    /** Numeric identity of the container process. */
    public record User(int uid, int gid, List<Integer> additionalGids) {
        public User {
            additionalGids = List.copyOf(additionalGids);
        }
    }

    private record PasswdEntry(String name, int uid, int gid) {
    }

    private record GroupEntry(String name, int gid, List<String> members) {
    }

    private UserResolver() {
    }

    /** @param rootfs the container root on the host, used only if the spec names users or groups */
    public static User resolve(String spec, Path rootfs) throws IOException {
        if (spec == null || spec.isEmpty()) {
            spec = "0";
        }
        int colon = spec.indexOf(':');
        String userPart = colon < 0 ? spec : spec.substring(0, colon);
        String groupPart = colon < 0 ? null : spec.substring(colon + 1);
        if (userPart.isEmpty() || (groupPart != null && groupPart.isEmpty())) {
            throw new ImageException("invalid user " + Digest.printable(spec) + ": want user[:group]");
        }
        List<PasswdEntry> passwd = null;
        Optional<PasswdEntry> pw;
        Integer uidNum = number(userPart);
        int uid;
        int gid;
        if (uidNum != null) {
            uid = uidNum;
            passwd = readPasswd(rootfs, false);
            pw = passwd.stream().filter(p -> p.uid == uid).findFirst();
            gid = pw.map(PasswdEntry::gid).orElse(0);
        } else {
            passwd = readPasswd(rootfs, true);
            pw = passwd.stream().filter(p -> p.name.equals(userPart)).findFirst();
            if (pw.isEmpty()) {
                throw new ImageException("unable to find user " + Digest.printable(userPart)
                        + ": no matching entry in the image's /etc/passwd");
            }
            uid = pw.get().uid;
            gid = pw.get().gid;
        }
        List<GroupEntry> groups = null;
        if (groupPart != null) {
            Integer gidNum = number(groupPart);
            if (gidNum != null) {
                gid = gidNum;
            } else {
                groups = readGroup(rootfs, true);
                gid = groups.stream().filter(g -> g.name.equals(groupPart)).findFirst()
                        .orElseThrow(() -> new ImageException("unable to find group " + Digest.printable(groupPart)
                                + ": no matching entry in the image's /etc/group"))
                        .gid;
            }
        }
        List<Integer> extra = new ArrayList<>();
        if (pw.isPresent()) {
            if (groups == null) {
                groups = readGroup(rootfs, false);
            }
            String name = pw.get().name;
            for (GroupEntry g : groups) {
                if (g.members.contains(name) && g.gid != gid && !extra.contains(g.gid)) {
                    extra.add(g.gid);
                }
            }
        }
        return new User(uid, gid, extra);
    }

    private static Integer number(String s) throws ImageException {
        if (!s.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return null;
        }
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw new ImageException("user or group id out of range: " + Digest.printable(s));
        }
    }

    private static List<PasswdEntry> readPasswd(Path rootfs, boolean required) throws IOException {
        List<PasswdEntry> out = new ArrayList<>();
        for (String[] f : readDb(rootfs, "/etc/passwd", required)) {
            Integer uid = f.length >= 4 ? safeNumber(f[2]) : null;
            Integer gid = f.length >= 4 ? safeNumber(f[3]) : null;
            if (uid != null && gid != null) {
                out.add(new PasswdEntry(f[0], uid, gid));
            }
        }
        return out;
    }

    private static List<GroupEntry> readGroup(Path rootfs, boolean required) throws IOException {
        List<GroupEntry> out = new ArrayList<>();
        for (String[] f : readDb(rootfs, "/etc/group", required)) {
            Integer gid = f.length >= 3 ? safeNumber(f[2]) : null;
            if (gid != null) {
                List<String> members = f.length >= 4 && !f[3].isEmpty() ? List.of(f[3].split(",")) : List.of();
                out.add(new GroupEntry(f[0], gid, members));
            }
        }
        return out;
    }

    private static Integer safeNumber(String s) {
        try {
            return number(s);
        } catch (ImageException e) {
            return null;
        }
    }

    /** Reads a colon-separated database from inside the rootfs; missing is empty unless required. */
    private static List<String[]> readDb(Path rootfs, String file, boolean required) throws IOException {
        Path p = rootfs == null ? null : RootPaths.resolveInRoot(rootfs, file);
        // The guest's view: a mapped symlink was followed (inside the root) by resolveInRoot, and a file the
        // guest would not see as a regular file (a mapped device, say) is not read.
        Optional<MappedAttributes> a = p == null ? Optional.empty() : MappedAttributes.lstat(p);
        if (a.isEmpty() || !a.get().isRegularFile()) {
            if (required) {
                throw new ImageException("cannot resolve user names: the image has no " + file);
            }
            return List.of();
        }
        byte[] data;
        try (InputStream in = Files.newInputStream(p, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            data = in.readNBytes(MAX_DB_BYTES + 1);
        }
        if (data.length > MAX_DB_BYTES) {
            throw new ImageException("the image's " + file + " is larger than " + MAX_DB_BYTES + " bytes");
        }
        List<String[]> out = new ArrayList<>();
        for (String line : new String(data, StandardCharsets.UTF_8).split("\n")) {
            String l = line.strip();
            if (!l.isEmpty() && !l.startsWith("#")) {
                out.add(l.split(":", -1));
            }
        }
        return out;
    }
}
