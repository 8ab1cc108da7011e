package io.isola.vmm.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
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

    @Test
    void regularFilesDirsSymlinksAndModes() throws IOException {
        byte[] tar = new TarBuilder().dir("bin").file("bin/tool", "#!/bin/sh\n", 04755)
                .symlink("bin/sh", "/bin/tool").dir("tmp", 01777).file("etc/hostname", "box\n").build();
        Digest diffId = apply(tar);
        assertEquals(LayoutBuilder.sha256(tar), diffId.toString());
        assertEquals("#!/bin/sh\n", Files.readString(root.resolve("bin/tool")));
        assertEquals(04755, (int) Files.getAttribute(root.resolve("bin/tool"), "unix:mode") & 07777);
        assertEquals(01777, (int) Files.getAttribute(root.resolve("tmp"), "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777);
        assertEquals("/bin/tool", Files.readSymbolicLink(root.resolve("bin/sh")).toString());
        assertEquals("box\n", Files.readString(root.resolve("etc/hostname")));
        assertEquals(2, unpacker.stats().files());
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
        assertThrows(ImageException.class, () -> apply(new TarBuilder().file("etc/passwd", "pwned").build()));
        // A whiteout through the symlink must not delete the host file either.
        assertThrows(ImageException.class, () -> apply(new TarBuilder().file("etc/.wh.passwd", "").build()));
        assertEquals("host secret", Files.readString(outside.resolve("passwd")));
    }

    @Test
    void entryReplacesSymlinkInsteadOfWritingThroughIt() throws IOException {
        apply(new TarBuilder().symlink("motd", outside.resolve("passwd").toString()).build());
        apply(new TarBuilder().file("motd", "replaced").build());
        assertFalse(Files.isSymbolicLink(root.resolve("motd")));
        assertEquals("replaced", Files.readString(root.resolve("motd")));
        assertEquals("host secret", Files.readString(outside.resolve("passwd")));
    }

    @Test
    void hardlinkInsideRootWorks() throws IOException {
        apply(new TarBuilder().file("bin/busybox", "bb", 0755).hardlink("bin/ls", "bin/busybox").build());
        assertTrue(Files.isSameFile(root.resolve("bin/ls"), root.resolve("bin/busybox")));
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
}
