package io.isola.vmm.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageTest {
    @TempDir
    Path tmp;

    private Path twoLayerLayout() throws IOException {
        LayoutBuilder b = new LayoutBuilder(tmp.resolve("layout"));
        b.configJson = "{\"Entrypoint\":[\"/bin/ep\"],\"Cmd\":[\"--serve\"],\"Env\":[\"PATH=/bin\",\"A=1\"],"
                + "\"WorkingDir\":\"/srv\",\"User\":\"1000:1000\"}";
        b.layer(new TarBuilder().file("bin/ep", "ep", 0755).file("etc/old", "old").build(), false);
        b.layer(new TarBuilder().file("etc/.wh.old", "").file("srv/data", "d").build(), true);
        return b.finish();
    }

    @Test
    void opensLayoutDirectoryAndUnpacksVerifiedLayers() throws IOException {
        Path layout = twoLayerLayout();
        try (Image img = Image.open(layout)) {
            assertEquals(ImageSource.Kind.OCI_LAYOUT_DIR, img.kind());
            assertEquals(List.of("/bin/ep"), img.config().entrypoint());
            assertEquals(List.of("--serve"), img.config().cmd());
            assertEquals("/srv", img.config().workingDir());
            assertEquals("1000:1000", img.config().user());
            assertEquals(2, img.layers().size());
            PreparedRootfs r = img.unpackTo(tmp.resolve("bundle/rootfs"));
            assertTrue(r.unpacked());
            assertEquals(2, r.stats().layers());
            assertEquals("ep", Files.readString(tmp.resolve("bundle/rootfs/bin/ep")));
            assertEquals("d", Files.readString(tmp.resolve("bundle/rootfs/srv/data")));
            assertFalse(Files.exists(tmp.resolve("bundle/rootfs/etc/old")));
        }
    }

    @Test
    void opensLayoutTar() throws IOException {
        Path layout = twoLayerLayout();
        Path tar = tmp.resolve("image.tar");
        try (OutputStream out = Files.newOutputStream(tar); TarArchiveOutputStream t = new TarArchiveOutputStream(out);
             Stream<Path> files = Files.walk(layout)) {
            t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (Path p : files.sorted().toList()) {
                String name = "./" + layout.relativize(p);
                if (Files.isDirectory(p)) {
                    continue;
                }
                TarArchiveEntry e = new TarArchiveEntry(p.toFile(), name);
                t.putArchiveEntry(e);
                Files.copy(p, t);
                t.closeArchiveEntry();
            }
        }
        assertEquals(ImageSource.Kind.OCI_LAYOUT_TAR, ImageSource.detect(tar));
        try (Image img = Image.open(tar, "latest")) {
            assertEquals(ImageSource.Kind.OCI_LAYOUT_TAR, img.kind());
            img.unpackTo(tmp.resolve("r"));
            assertEquals("ep", Files.readString(tmp.resolve("r/bin/ep")));
        }
    }

    @Test
    void layerDigestMismatchRejectedAndTargetCleared() throws IOException {
        LayoutBuilder b = new LayoutBuilder(tmp.resolve("layout"));
        b.layer(new TarBuilder().file("a", "original").build(), false);
        Path layout = b.finish();
        // Tamper with the layer blob in place: same size, different bytes.
        Path blob;
        try (Stream<Path> s = Files.list(layout.resolve("blobs/sha256"))) {
            blob = s.filter(p -> {
                try {
                    return Files.size(p) >= 1024; // the tar, not a JSON document
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            }).findFirst().orElseThrow();
        }
        byte[] data = Files.readAllBytes(blob);
        int at = new String(data, java.nio.charset.StandardCharsets.ISO_8859_1).indexOf("original");
        data[at] = 'X';
        Files.write(blob, data);
        try (Image img = Image.open(layout)) {
            ImageException e = assertThrows(ImageException.class, () -> img.unpackTo(tmp.resolve("r")));
            assertTrue(e.getMessage().contains("digest mismatch"), e.getMessage());
            try (Stream<Path> s = Files.list(tmp.resolve("r"))) {
                assertEquals(0, s.count(), "a failed unpack leaves nothing behind");
            }
        }
    }

    @Test
    void manifestDigestMismatchRejectedAtOpen() throws IOException {
        LayoutBuilder b = new LayoutBuilder(tmp.resolve("layout"));
        LayoutBuilder.Blob m = b.manifest();
        Path mf = tmp.resolve("layout/" + "blobs/sha256/" + m.digest().substring(7));
        Files.writeString(mf, Files.readString(mf).replace("\"schemaVersion\":2", "\"schemaVersion\":3"));
        b.index("{\"digest\":\"" + m.digest() + "\",\"size\":" + m.size() + "}");
        ImageException e = assertThrows(ImageException.class, () -> Image.open(tmp.resolve("layout")));
        assertTrue(e.getMessage().contains("digest mismatch"), e.getMessage());
    }

    @Test
    void malformedDigestsRejected() throws IOException {
        LayoutBuilder b = new LayoutBuilder(tmp.resolve("layout"));
        for (String bad : List.of("sha256:../../../../etc/passwd", "sha512:" + "a".repeat(128), "sha256:" + "A".repeat(64),
                "sha256:" + "a".repeat(63), "md5:abc")) {
            b.index("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" + bad + "\",\"size\":10}");
            ImageException e = assertThrows(ImageException.class, () -> Image.open(tmp.resolve("layout")), bad);
            assertTrue(e.getMessage().contains("malformed digest"), e.getMessage());
        }
    }

    @Test
    void diffIdMismatchRejected() throws IOException {
        LayoutBuilder b = new LayoutBuilder(tmp.resolve("layout"));
        b.layer(new TarBuilder().file("a", "a").build(), true);
        Path layout = b.finish();
        // Rewrite config with a wrong diff_id, then manifest and index to match (all digests valid).
        LayoutBuilder c = new LayoutBuilder(tmp.resolve("layout2"));
        byte[] layerGz = TarBuilder.gzip(new TarBuilder().file("a", "a").build());
        LayoutBuilder.Blob layer = c.blob(layerGz);
        LayoutBuilder.Blob config = c.blob("{\"os\":\"linux\",\"config\":{\"Cmd\":[\"x\"]},\"rootfs\":{\"type\":\"layers\","
                + "\"diff_ids\":[\"sha256:" + "0".repeat(64) + "\"]}}");
        LayoutBuilder.Blob m = c.blob("{\"schemaVersion\":2,\"config\":"
                + LayoutBuilder.descriptor("application/vnd.oci.image.config.v1+json", config) + ",\"layers\":["
                + LayoutBuilder.descriptor("application/vnd.oci.image.layer.v1.tar+gzip", layer) + "]}");
        c.index(LayoutBuilder.descriptor("application/vnd.oci.image.manifest.v1+json", m));
        try (Image img = Image.open(tmp.resolve("layout2"))) {
            ImageException e = assertThrows(ImageException.class, () -> img.unpackTo(tmp.resolve("r")));
            assertTrue(e.getMessage().contains("diff_id"), e.getMessage());
        }
        try (Image ok = Image.open(layout)) {
            ok.unpackTo(tmp.resolve("ok"));
        }
    }

    @Test
    void picksByRefOrPlatform() throws IOException {
        LayoutBuilder b = new LayoutBuilder(tmp.resolve("layout"));
        b.configJson = "{\"Cmd\":[\"arm\"]}";
        LayoutBuilder.Blob arm = b.manifest();
        b.configJson = "{\"Cmd\":[\"amd\"]}";
        LayoutBuilder.Blob amd = b.manifest();
        String mt = "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",";
        b.index("{" + mt + "\"digest\":\"" + arm.digest() + "\",\"size\":" + arm.size()
                        + ",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"},"
                        + "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}}",
                "{" + mt + "\"digest\":\"" + amd.digest() + "\",\"size\":" + amd.size()
                        + ",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"},"
                        + "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v2\"}}");
        try (Image img = Image.open(tmp.resolve("layout"))) {
            assertEquals(List.of("amd"), img.config().cmd());
        }
        try (Image img = Image.open(tmp.resolve("layout"), "v1")) {
            assertEquals(List.of("arm"), img.config().cmd());
        }
        ImageException e = assertThrows(ImageException.class, () -> Image.open(tmp.resolve("layout"), "v3"));
        assertTrue(e.getMessage().contains("no image tagged"), e.getMessage());
    }

    @Test
    void plainRootfsIsCopiedIntoTheMappedFormat() throws IOException {
        Path rootfs = Files.createDirectories(tmp.resolve("myroot/bin"));
        Files.writeString(rootfs.resolve("busybox"), "bb");
        Files.createSymbolicLink(rootfs.resolve("sh"), Path.of("busybox"));
        try (Image img = Image.open(tmp.resolve("myroot"))) {
            assertEquals(ImageSource.Kind.ROOTFS_DIR, img.kind());
            assertEquals(ImageConfig.EMPTY, img.config());
            PreparedRootfs r = img.unpackTo(tmp.resolve("bundle/rootfs"));
            assertTrue(r.unpacked());
            assertEquals(tmp.resolve("bundle/rootfs"), r.path());
            assertEquals(1, r.stats().symlinks());
            assertEquals("bb", Files.readString(r.path().resolve("bin/busybox")));
            assertFalse(Files.isSymbolicLink(r.path().resolve("bin/sh")));
            assertEquals("busybox", MappedAttributes.readLink(r.path().resolve("bin/sh")));
        }
        assertTrue(Files.isSymbolicLink(rootfs.resolve("sh"))); // the user's directory is untouched
    }

    @Test
    void unrecognisedImageArgumentsGetTheClearMessage() throws IOException {
        Files.writeString(tmp.resolve("notes.txt"), "hello");
        Files.createDirectories(tmp.resolve("empty"));
        Files.createDirectories(tmp.resolve("half"));
        Files.writeString(tmp.resolve("half/index.json"), "{}");
        for (String arg : List.of("notes.txt", "missing", "empty", "half")) {
            ImageException e = assertThrows(ImageException.class, () -> Image.open(tmp.resolve(arg)), arg);
            assertTrue(e.getMessage().startsWith("IMAGE must be an OCI image layout (directory or .tar) or a root "
                    + "filesystem directory: " + tmp.resolve(arg)), e.getMessage());
        }
    }

    @Test
    void oversizedIndexRejected() throws IOException {
        new LayoutBuilder(tmp.resolve("layout"));
        Files.write(tmp.resolve("layout/index.json"), new byte[OciImageReader.MAX_JSON_BYTES + 10]);
        ImageException e = assertThrows(ImageException.class, () -> Image.open(tmp.resolve("layout")));
        assertTrue(e.getMessage().contains("larger than"), e.getMessage());
    }
}
