package io.isola.vmm.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UserResolverTest {
    @TempDir
    Path tmp;
    Path rootfs;

    @BeforeEach
    void setUp() throws IOException {
        rootfs = Files.createDirectories(tmp.resolve("rootfs/etc"));
        rootfs = tmp.resolve("rootfs");
        Files.writeString(rootfs.resolve("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n"
                + "# comment\nweb:x:33:33:www:/var/www:/usr/sbin/nologin\nbroken line\n");
        Files.writeString(rootfs.resolve("etc/group"), "root:x:0:\nwww-data:x:33:\nstaff:x:50:web\n");
    }

    @Test
    void namesAndNumbers() throws IOException {
        assertEquals(new UserResolver.User(0, 0, List.of()), UserResolver.resolve("", rootfs));
        assertEquals(new UserResolver.User(33, 33, List.of(50)), UserResolver.resolve("web", rootfs));
        assertEquals(new UserResolver.User(33, 50, List.of()), UserResolver.resolve("web:staff", rootfs));
        assertEquals(new UserResolver.User(33, 33, List.of(50)), UserResolver.resolve("33", rootfs));
        assertEquals(new UserResolver.User(4242, 0, List.of()), UserResolver.resolve("4242", rootfs));
        assertEquals(new UserResolver.User(4242, 7, List.of()), UserResolver.resolve("4242:7", rootfs));
    }

    @Test
    void unknownNamesAreClearErrors() {
        ImageException e = assertThrows(ImageException.class, () -> UserResolver.resolve("ghost", rootfs));
        assertTrue(e.getMessage().contains("unable to find user \"ghost\""), e.getMessage());
        ImageException g = assertThrows(ImageException.class, () -> UserResolver.resolve("web:ghosts", rootfs));
        assertTrue(g.getMessage().contains("unable to find group \"ghosts\""), g.getMessage());
    }

    @Test
    void passwdSymlinkIsResolvedInsideTheRootNotOnTheHost() throws IOException {
        // /etc/passwd -> /etc/passwd.real is fine (resolved inside the rootfs); a host path is not reachable.
        Path host = Files.createDirectories(tmp.resolve("host"));
        Files.writeString(host.resolve("passwd"), "web:x:0:0::/:/bin/sh\n");
        Files.move(rootfs.resolve("etc/passwd"), rootfs.resolve("etc/passwd.real"));
        Files.createSymbolicLink(rootfs.resolve("etc/passwd"), Path.of("/etc/passwd.real"));
        assertEquals(33, UserResolver.resolve("web", rootfs).uid());

        Files.delete(rootfs.resolve("etc/passwd"));
        Files.createSymbolicLink(rootfs.resolve("etc/passwd"), Path.of("../../../../../../" + host.resolve("passwd")));
        // Resolved as <rootfs>/<host path>/passwd, which does not exist: the host's uid 0 entry is never read.
        assertThrows(ImageException.class, () -> UserResolver.resolve("web", rootfs));
    }

    /** A symlink as isola writes it for QEMU's mapped-xattr 9p share: a file holding the target. */
    private static void mappedSymlink(Path at, String target) throws IOException {
        Files.writeString(at, target);
        MappedAttributes.write(at, MappedAttributes.SYMLINK_MODE, 0, 0);
    }

    @Test
    void mappedPasswdSymlinkIsResolvedInsideTheRootNotOnTheHost() throws IOException {
        Path host = Files.createDirectories(tmp.resolve("host"));
        Files.writeString(host.resolve("passwd"), "web:x:0:0::/:/bin/sh\n");
        Files.move(rootfs.resolve("etc/passwd"), rootfs.resolve("etc/passwd.real"));
        mappedSymlink(rootfs.resolve("etc/passwd"), "/etc/passwd.real");
        assertEquals(33, UserResolver.resolve("web", rootfs).uid());

        // Through a mapped symlinked directory, relative this time.
        Files.createDirectories(rootfs.resolve("usr/share"));
        Files.move(rootfs.resolve("etc/passwd.real"), rootfs.resolve("usr/share/passwd"));
        mappedSymlink(rootfs.resolve("lib"), "usr/share");
        Files.delete(rootfs.resolve("etc/passwd"));
        mappedSymlink(rootfs.resolve("etc/passwd"), "../lib/passwd");
        assertEquals(33, UserResolver.resolve("web", rootfs).uid());

        Files.delete(rootfs.resolve("etc/passwd"));
        mappedSymlink(rootfs.resolve("etc/passwd"), "../../../../../../" + host.resolve("passwd"));
        // Resolved as <rootfs>/<host path>/passwd, which does not exist: the host's uid 0 entry is never read.
        assertThrows(ImageException.class, () -> UserResolver.resolve("web", rootfs));

        Files.delete(rootfs.resolve("etc/passwd"));
        mappedSymlink(rootfs.resolve("etc/passwd"), "passwd");
        ImageException loop = assertThrows(ImageException.class, () -> UserResolver.resolve("web", rootfs));
        assertTrue(loop.getMessage().contains("too many symlinks"), loop.getMessage());
    }

    @Test
    void missingPasswdOnlyMattersForNames() throws IOException {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertEquals(new UserResolver.User(5, 0, List.of()), UserResolver.resolve("5", empty));
        ImageException e = assertThrows(ImageException.class, () -> UserResolver.resolve("web", empty));
        assertTrue(e.getMessage().contains("no /etc/passwd"), e.getMessage());
    }
}
