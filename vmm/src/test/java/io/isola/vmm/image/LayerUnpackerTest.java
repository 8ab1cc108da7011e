package io.isola.vmm.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayerUnpackerTest {
    @TempDir
    Path tmp;
    Path root;
    Path outside;
    LayerUnpacker unpacker;

    @BeforeEach
    void setUp() throws IOException {
        root = Files.createDirectory(tmp.resolve("rootfs"));
        outside = Files.createDirectory(tmp.resolve("outside"));
        Files.writeString(outside.resolve("passwd"), "host secret");
        unpacker = new LayerUnpacker(root);
    }

    private Digest apply(byte[] tar) throws IOException {
        return unpacker.apply(new ByteArrayInputStream(tar), "", "test layer");
    }

    private List<String> outsideContents() throws IOException {
        try (Stream<Path> s = Files.list(outside)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** The raw value of user.&lt;name&gt; on p, never following a symlink. */
    static byte[] xattr(Path p, String name) throws IOException {
        UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class,
                LinkOption.NOFOLLOW_LINKS);
        ByteBuffer b = ByteBuffer.allocate(v.size(name));
        v.read(name, b);
        return b.array();
    }

    int myUid() throws IOException {
        return (int) Files.getAttribute(tmp, "unix:uid"); // JUnit created it: owned by this process
    }

    static int hostMode(Path p) throws IOException {
        return (int) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    }

    static byte[] bytes(int... b) {
        byte[] out = new byte[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = (byte) b[i];
        }
        return out;
    }

    @Test
    void tempDirSupportsUserXattrs() throws IOException {
        // Everything below relies on it; a clear failure beats a confusing one.
        Path f = Files.writeString(tmp.resolve("probe"), "");
        MappedAttributes.write(f, MappedAttributes.S_IFREG | 0644, 1, 2);
        assertEquals(new MappedAttributes(MappedAttributes.S_IFREG | 0644, 1, 2, true), MappedAttributes.read(f));
    }

    @Test
    void regularFilesDirsSymlinksAndModes() throws IOException {
        byte[] tar = new TarBuilder().dir("bin").file("bin/tool", "#!/bin/sh\n", 04755)
                .symlink("bin/sh", "/bin/tool").dir("tmp", 01777).file("etc/hostname", "box\n").build();
        Digest diffId = apply(tar);
        assertEquals(LayoutBuilder.sha256(tar), diffId.toString());
        assertEquals("#!/bin/sh\n", Files.readString(root.resolve("bin/tool")));
        assertEquals(MappedAttributes.S_IFREG | 04755, MappedAttributes.read(root.resolve("bin/tool")).mode());
        assertEquals(0755, hostMode(root.resolve("bin/tool")) & 07777); // no set-uid bit on the host
        assertEquals(MappedAttributes.S_IFDIR | 01777, MappedAttributes.read(root.resolve("tmp")).mode());
        assertEquals(0777, hostMode(root.resolve("tmp")) & 07777); // no sticky bit on the host
        assertEquals("/bin/tool", MappedAttributes.readLink(root.resolve("bin/sh")));
        assertEquals("box\n", Files.readString(root.resolve("etc/hostname")));
        // etc/ was never named by an entry: created 0755 and owned by root for the guest too.
        assertEquals(new MappedAttributes(MappedAttributes.S_IFDIR | 0755, 0, 0, true),
                MappedAttributes.read(root.resolve("etc")));
        assertEquals(new MappedAttributes(MappedAttributes.S_IFDIR | 0755, 0, 0, true), MappedAttributes.read(root));
        assertEquals(2, unpacker.stats().files());
        assertEquals(1, unpacker.stats().symlinks());
    }

    @Test
    void exactXattrFormatAsQemuMappedXattrReadsIt() throws IOException {
        apply(new TarBuilder().file("bin/su", "su", 04755).dir("home/user", 0750)
                .symlink("bin/sh", "busybox").ids(1000, 1000).file("home/user/notes", "n", 0640).build());

        // S_IFREG|04755 = 0104755 = 0x89ED, little-endian; uid 0 and gid 0.
        Path su = root.resolve("bin/su");
        assertArrayEquals(bytes(0xED, 0x89, 0, 0), xattr(su, "virtfs.mode"));
        assertArrayEquals(bytes(0, 0, 0, 0), xattr(su, "virtfs.uid"));
        assertArrayEquals(bytes(0, 0, 0, 0), xattr(su, "virtfs.gid"));
        assertTrue(Files.isRegularFile(su, LinkOption.NOFOLLOW_LINKS));
        assertEquals(0100755, hostMode(su)); // rwx kept, set-uid only in the xattr
        assertEquals(myUid(), (int) Files.getAttribute(su, "unix:uid", LinkOption.NOFOLLOW_LINKS)); // the unpacker's

        // S_IFDIR|0750 = 040750 = 0x41E8.
        Path dir = root.resolve("home/user");
        assertArrayEquals(bytes(0xE8, 0x41, 0, 0), xattr(dir, "virtfs.mode"));
        assertArrayEquals(bytes(0, 0, 0, 0), xattr(dir, "virtfs.uid"));
        assertEquals(040750, hostMode(dir));

        // Symlink: a regular 0600 host file holding the target; S_IFLNK|0777 = 0120777 = 0xA1FF.
        Path sh = root.resolve("bin/sh");
        assertFalse(Files.isSymbolicLink(sh));
        assertTrue(Files.isRegularFile(sh, LinkOption.NOFOLLOW_LINKS));
        assertEquals(0100600, hostMode(sh));
        assertEquals("busybox", Files.readString(sh));
        assertArrayEquals(bytes(0xFF, 0xA1, 0, 0), xattr(sh, "virtfs.mode"));
        assertArrayEquals(bytes(0, 0, 0, 0), xattr(sh, "virtfs.gid"));

        // uid/gid 1000 = 0x3E8; the host file stays the unpacker's.
        Path notes = root.resolve("home/user/notes");
        assertArrayEquals(bytes(0xE8, 0x03, 0, 0), xattr(notes, "virtfs.uid"));
        assertArrayEquals(bytes(0xE8, 0x03, 0, 0), xattr(notes, "virtfs.gid"));
        assertArrayEquals(bytes(0xA0, 0x81, 0, 0), xattr(notes, "virtfs.mode")); // 0100640
        assertEquals(new MappedAttributes(0100640, 1000, 1000, true), MappedAttributes.read(notes));
        assertEquals(myUid(), (int) Files.getAttribute(notes, "unix:uid", LinkOption.NOFOLLOW_LINKS));
        // No device numbers are ever written.
        UserDefinedFileAttributeView v = Files.getFileAttributeView(notes, UserDefinedFileAttributeView.class,
                LinkOption.NOFOLLOW_LINKS);
        assertEquals(List.of("virtfs.gid", "virtfs.mode", "virtfs.uid"), v.list().stream().sorted().toList());
    }

    @Test
    void noSetuidOrSetgidFileEverReachesTheHost() throws IOException {
        apply(new TarBuilder().file("a", "a", 06777).dir("d", 07777).file("d/b", "b", 02755)
                .ids(0xFFFFFFFFL, 0x1_0000_0000L).file("c", "c", 04711).build());
        for (String f : List.of("a", "d", "d/b", "c")) {
            assertEquals(0, hostMode(root.resolve(f)) & 07000, f);
        }
        assertEquals(MappedAttributes.S_IFREG | 06777, MappedAttributes.read(root.resolve("a")).mode());
        assertEquals(MappedAttributes.S_IFDIR | 07777, MappedAttributes.read(root.resolve("d")).mode());
        // Ids tar holds but the guest cannot (-1, > 32 bits) become nobody, never root.
        assertEquals(new MappedAttributes(MappedAttributes.S_IFREG | 04711, 65534, 65534, true),
                MappedAttributes.read(root.resolve("c")));
    }

    @Test
    void fileTypeBitsInTheTarModeFieldAreIgnored() throws IOException {
        apply(new TarBuilder().file("dev-looking", "x", MappedAttributes.S_IFCHR | 0644)
                .file("link-looking", "/etc/shadow", MappedAttributes.S_IFLNK | 0777).build());
        assertEquals(MappedAttributes.S_IFREG | 0644, MappedAttributes.read(root.resolve("dev-looking")).mode());
        assertEquals(MappedAttributes.S_IFREG | 0777, MappedAttributes.read(root.resolve("link-looking")).mode());
    }

    @Test
    void invalidSymlinkTargetsRejected() {
        assertThrows(ImageException.class, () -> apply(new TarBuilder().symlink("empty", "").build()));
        assertThrows(ImageException.class, () -> apply(new TarBuilder().symlink("long", "x".repeat(4096)).build()));
    }

    @Test
    void whiteoutDeletesLowerFile() throws IOException {
        apply(new TarBuilder().file("etc/a", "a").file("etc/b", "b").dir("var/cache/x").file("var/cache/x/f", "f").build());
        apply(new TarBuilder().file("etc/.wh.a", "").file("var/cache/.wh.x", "").build());
        assertFalse(Files.exists(root.resolve("etc/a"), LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(root.resolve(".wh.a"), LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(root.resolve("etc/.wh.a"), LinkOption.NOFOLLOW_LINKS));
        assertEquals("b", Files.readString(root.resolve("etc/b")));
        assertFalse(Files.exists(root.resolve("var/cache/x"), LinkOption.NOFOLLOW_LINKS));
        assertTrue(Files.isDirectory(root.resolve("var/cache")));
    }

    @Test
    void opaqueDirectoryClearsLowerButKeepsSameLayerFiles() throws IOException {
        apply(new TarBuilder().file("d/old", "old").file("d/sub/older", "older").file("keep/x", "x").build());
        // The opaque marker deliberately comes after this layer's own entries in d/.
        apply(new TarBuilder().dir("d").file("d/new", "new").file("d/sub/newer", "newer")
                .file("d/.wh..wh..opq", "").build());
        assertEquals("new", Files.readString(root.resolve("d/new")));
        assertEquals("newer", Files.readString(root.resolve("d/sub/newer")));
        assertFalse(Files.exists(root.resolve("d/old")));
        assertFalse(Files.exists(root.resolve("d/sub/older")));
        assertFalse(Files.exists(root.resolve("d/.wh..wh..opq")));
        assertEquals("x", Files.readString(root.resolve("keep/x")));
    }

    @Test
    void gzipLayerDetectedByMagic() throws IOException {
        byte[] tar = new TarBuilder().file("hello", "world").build();
        Digest diffId = unpacker.apply(new ByteArrayInputStream(TarBuilder.gzip(tar)), "", "gz");
        assertEquals("world", Files.readString(root.resolve("hello")));
        assertEquals(LayoutBuilder.sha256(tar), diffId.toString());
    }

    @Test
    void zstdIsRejectedClearly() {
        byte[] zstd = {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd, 0, 0, 0, 0};
        ImageException e = assertThrows(ImageException.class,
                () -> unpacker.apply(new ByteArrayInputStream(zstd), "application/vnd.oci.image.layer.v1.tar+zstd", "z"));
        assertTrue(e.getMessage().contains("unsupported layer compression"), e.getMessage());
    }

    @Test
    void dotDotEscapeRejected() throws IOException {
        ImageException e = assertThrows(ImageException.class,
                () -> apply(new TarBuilder().file("../outside/evil", "x").build()));
        assertTrue(e.getMessage().contains("escapes the root filesystem"), e.getMessage());
        ImageException e2 = assertThrows(ImageException.class,
                () -> apply(new TarBuilder().file("a/../../outside/evil", "x").build()));
        assertTrue(e2.getMessage().contains("escapes the root filesystem"), e2.getMessage());
        assertEquals(List.of("passwd"), outsideContents());
    }

    @Test
    void innerDotDotThatStaysInsideIsFine() throws IOException {
        apply(new TarBuilder().file("a/b/../c", "c").build());
        assertEquals("c", Files.readString(root.resolve("a/c")));
    }

    @Test
    void absolutePathStaysInsideRoot() throws IOException {
        apply(new TarBuilder().file("/etc/motd", "hi").build());
        assertEquals("hi", Files.readString(root.resolve("etc/motd")));
    }

    @Test
    void symlinkParentEscapeRejectedAndNothingWrittenOutside() throws IOException {
        ImageException e = assertThrows(ImageException.class, () -> apply(new TarBuilder()
                .symlink("a", outside.toString()).file("a/passwd", "pwned").file("a/new", "pwned").build()));
        assertTrue(e.getMessage().contains("layer entry escapes the root filesystem through a symlink: \"a/passwd\""),
                e.getMessage());
        assertEquals("host secret", Files.readString(outside.resolve("passwd")));
        assertEquals(List.of("passwd"), outsideContents());
    }

    @Test
    void symlinkPlantedByLowerLayerIsNotFollowedEither() throws IOException {
        apply(new TarBuilder().symlink("etc", outside.toString()).build());
        assertTrue(MappedAttributes.isSymlink(root.resolve("etc"))); // a mapped symlink: a plain file on the host
        ImageException e = assertThrows(ImageException.class,
                () -> apply(new TarBuilder().file("etc/passwd", "pwned").build()));
        assertTrue(e.getMessage().contains("escapes the root filesystem through a symlink: \"etc/passwd\""),
                e.getMessage());
        // A whiteout through the symlink must not delete the host file either.
        ImageException w = assertThrows(ImageException.class,
                () -> apply(new TarBuilder().file("etc/.wh.passwd", "").build()));
        assertTrue(w.getMessage().contains("through a symlink"), w.getMessage());
        // Nor a directory entry below it, nor a hardlink through it.
        assertThrows(ImageException.class, () -> apply(new TarBuilder().dir("etc/sub").build()));
        assertThrows(ImageException.class, () -> apply(new TarBuilder().hardlink("x", "etc/passwd").build()));
        assertEquals("host secret", Files.readString(outside.resolve("passwd")));
        assertEquals(List.of("passwd"), outsideContents());
    }

    @Test
    void realHostSymlinkInTheRootIsStillNeverFollowed() throws IOException {
        // isola no longer writes real symlinks, but one found in the tree must not be gone through either.
        Files.createSymbolicLink(root.resolve("etc"), outside);
        assertThrows(ImageException.class, () -> apply(new TarBuilder().file("etc/passwd", "pwned").build()));
        assertThrows(ImageException.class, () -> apply(new TarBuilder().file("etc/.wh.passwd", "").build()));
        assertEquals("host secret", Files.readString(outside.resolve("passwd")));
    }

    @Test
    void entryReplacesSymlinkInsteadOfWritingThroughIt() throws IOException {
        apply(new TarBuilder().symlink("motd", outside.resolve("passwd").toString()).build());
        apply(new TarBuilder().file("motd", "replaced").build());
        assertFalse(MappedAttributes.isSymlink(root.resolve("motd")));
        assertEquals(MappedAttributes.S_IFREG | 0644, MappedAttributes.read(root.resolve("motd")).mode());
        assertEquals("replaced", Files.readString(root.resolve("motd")));
        assertEquals("host secret", Files.readString(outside.resolve("passwd")));
        // A directory replaces a symlink the same way.
        apply(new TarBuilder().symlink("d", outside.toString()).build());
        apply(new TarBuilder().dir("d").file("d/passwd", "mine").build());
        assertTrue(MappedAttributes.read(root.resolve("d")).isDirectory());
        assertEquals("mine", Files.readString(root.resolve("d/passwd")));
        assertEquals("host secret", Files.readString(outside.resolve("passwd")));
    }

    @Test
    void whiteoutAndOpaqueRemoveMappedSymlinksThemselves() throws IOException {
        apply(new TarBuilder().symlink("a/l1", outside.toString()).symlink("b/l2", outside.toString())
                .file("b/keep", "k").build());
        apply(new TarBuilder().file("a/.wh.l1", "").file("b/.wh..wh..opq", "").file("b/new", "n").build());
        assertFalse(Files.exists(root.resolve("a/l1"), LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(root.resolve("b/l2"), LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.exists(root.resolve("b/keep"), LinkOption.NOFOLLOW_LINKS));
        assertEquals("n", Files.readString(root.resolve("b/new")));
        assertEquals(List.of("passwd"), outsideContents());
        assertEquals("host secret", Files.readString(outside.resolve("passwd")));
    }

    @Test
    void hardlinkToASymlinkLinksTheMappedFile() throws IOException {
        apply(new TarBuilder().symlink("bin/sh", "busybox").hardlink("bin/ash", "bin/sh").build());
        assertTrue(Files.isSameFile(root.resolve("bin/ash"), root.resolve("bin/sh")));
        assertEquals("busybox", MappedAttributes.readLink(root.resolve("bin/ash")));
    }

    @Test
    void hardlinkInsideRootWorks() throws IOException {
        apply(new TarBuilder().ids(0, 10).file("bin/busybox", "bb", 04755).hardlink("bin/ls", "bin/busybox").build());
        assertTrue(Files.isSameFile(root.resolve("bin/ls"), root.resolve("bin/busybox")));
        assertEquals(new MappedAttributes(MappedAttributes.S_IFREG | 04755, 0, 10, true),
                MappedAttributes.read(root.resolve("bin/ls")));
    }

    @Test
    void hardlinkEscapeRejected() throws IOException {
        ImageException e = assertThrows(ImageException.class,
                () -> apply(new TarBuilder().hardlink("stolen", "../outside/passwd").build()));
        assertTrue(e.getMessage().contains("hardlink target escapes the root filesystem"), e.getMessage());
        // Through a symlinked parent: must not link the host file in either.
        assertThrows(ImageException.class, () -> apply(new TarBuilder()
                .symlink("lnk", outside.toString()).hardlink("stolen", "lnk/passwd").build()));
        assertFalse(Files.exists(root.resolve("stolen"), LinkOption.NOFOLLOW_LINKS));
        assertEquals(1L, (long) (Integer) Files.getAttribute(outside.resolve("passwd"), "unix:nlink"));
    }

    @Test
    void typeChangeDeletesThenCreates() throws IOException {
        apply(new TarBuilder().file("x/y", "file in dir").file("f", "plain").build());
        apply(new TarBuilder().file("x", "now a file").dir("f").file("f/inner", "now a dir").build());
        assertEquals("now a file", Files.readString(root.resolve("x")));
        assertEquals("now a dir", Files.readString(root.resolve("f/inner")));
    }

    @Test
    void fifoIsSkippedAndCounted() throws IOException {
        apply(new TarBuilder().fifo("run/pipe").file("ok", "ok").build());
        assertFalse(Files.exists(root.resolve("run/pipe"), LinkOption.NOFOLLOW_LINKS));
        assertEquals(1, unpacker.stats().skippedSpecial());
    }

    @Test
    void plainRootfsCopyConvertsSymlinksModesAndOwners() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src"));
        Files.createDirectories(src.resolve("bin"));
        Files.writeString(src.resolve("bin/busybox"), "bb");
        Files.setAttribute(src.resolve("bin/busybox"), "unix:uid", 1000, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(src.resolve("bin/busybox"), "unix:gid", 1000, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(src.resolve("bin/busybox"), "unix:mode", 04755, LinkOption.NOFOLLOW_LINKS);
        Files.createSymbolicLink(src.resolve("bin/sh"), Path.of("busybox"));
        Files.createLink(src.resolve("bin/ls"), src.resolve("bin/busybox"));
        Files.createDirectories(src.resolve("etc"));
        Files.setAttribute(src.resolve("etc"), "unix:mode", 0750, LinkOption.NOFOLLOW_LINKS);
        // Symlinks that point out of the tree are copied as links, never followed.
        Files.createSymbolicLink(src.resolve("etc/passwd"), outside.resolve("passwd"));
        Files.createSymbolicLink(src.resolve("out"), outside);
        Process mkfifo = new ProcessBuilder("mkfifo", src.resolve("etc/pipe").toString()).start();
        boolean fifo = mkfifo.waitFor() == 0;

        unpacker.copyTree(src);

        assertEquals(new MappedAttributes(MappedAttributes.S_IFREG | 04755, 1000, 1000, true),
                MappedAttributes.read(root.resolve("bin/busybox")));
        assertEquals(0755, hostMode(root.resolve("bin/busybox")) & 07777);
        assertEquals("bb", Files.readString(root.resolve("bin/busybox")));
        Path sh = root.resolve("bin/sh");
        assertTrue(Files.isRegularFile(sh, LinkOption.NOFOLLOW_LINKS));
        assertArrayEquals(bytes(0xFF, 0xA1, 0, 0), xattr(sh, "virtfs.mode"));
        assertEquals("busybox", MappedAttributes.readLink(sh));
        assertTrue(Files.isSameFile(root.resolve("bin/ls"), root.resolve("bin/busybox")));
        assertEquals(MappedAttributes.S_IFDIR | 0750, MappedAttributes.read(root.resolve("etc")).mode());
        assertEquals(outside.resolve("passwd").toString(), MappedAttributes.readLink(root.resolve("etc/passwd")));
        assertEquals(outside.toString(), MappedAttributes.readLink(root.resolve("out")));
        assertFalse(Files.exists(root.resolve("etc/pipe"), LinkOption.NOFOLLOW_LINKS));
        try (Stream<Path> all = Files.walk(root)) {
            assertTrue(all.noneMatch(Files::isSymbolicLink), "no real symlink in the copy");
        }
        LayerUnpacker.Stats st = unpacker.stats();
        assertEquals(1, st.files());
        assertEquals(1, st.hardlinks());
        assertEquals(3, st.symlinks());
        assertEquals(fifo ? 1 : 0, st.skippedSpecial());
        // The source is left as it was.
        assertTrue(Files.isSymbolicLink(src.resolve("bin/sh")));
        assertEquals(04755, hostMode(src.resolve("bin/busybox")) & 07777);
        assertEquals("host secret", Files.readString(outside.resolve("passwd")));
    }

    @Test
    void plainRootfsCopyRefusesToCopyIntoItself() throws IOException {
        LayerUnpacker inside = new LayerUnpacker(root);
        ImageException e = assertThrows(ImageException.class, () -> inside.copyTree(tmp));
        assertTrue(e.getMessage().contains("inside it"), e.getMessage());
    }
}
