package io.isola.vmm.image;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/** Writes OCI image layouts for tests: blobs under blobs/sha256, manifest, config, index. */
final class LayoutBuilder {
    record Blob(String digest, long size) {
    }

    private final Path dir;
    private final List<String> layerDescriptors = new ArrayList<>();
    private final List<String> diffIds = new ArrayList<>();
    String configJson = "{\"Cmd\":[\"sh\"],\"Env\":[\"PATH=/bin\"]}";

    LayoutBuilder(Path dir) throws IOException {
        this.dir = dir;
        Files.createDirectories(dir.resolve("blobs/sha256"));
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    }

    static String sha256(byte[] data) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    Blob blob(byte[] data) throws IOException {
        String d = sha256(data);
        Files.write(dir.resolve("blobs/sha256/" + d.substring(7)), data);
        return new Blob(d, data.length);
    }

    Blob blob(String json) throws IOException {
        return blob(json.getBytes(StandardCharsets.UTF_8));
    }

    LayoutBuilder layer(byte[] tar, boolean gzip) throws IOException {
        byte[] data = gzip ? TarBuilder.gzip(tar) : tar;
        Blob b = blob(data);
        layerDescriptors.add(descriptor(gzip ? "application/vnd.oci.image.layer.v1.tar+gzip"
                : "application/vnd.oci.image.layer.v1.tar", b));
        diffIds.add("\"" + sha256(tar) + "\"");
        return this;
    }

    static String descriptor(String mediaType, Blob b) {
        return "{\"mediaType\":\"" + mediaType + "\",\"digest\":\"" + b.digest + "\",\"size\":" + b.size + "}";
    }

    /** Writes config + manifest and returns the manifest blob. */
    Blob manifest() throws IOException {
        Blob config = blob("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":" + configJson
                + ",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" + String.join(",", diffIds) + "]}}");
        return blob("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":"
                + descriptor("application/vnd.oci.image.config.v1+json", config)
                + ",\"layers\":[" + String.join(",", layerDescriptors) + "]}");
    }

    /** Writes index.json listing the given raw descriptor JSON objects. */
    void index(String... manifests) throws IOException {
        Files.writeString(dir.resolve("index.json"), "{\"schemaVersion\":2,\"manifests\":["
                + String.join(",", manifests) + "]}");
    }

    /** The common case: one image, tagged "latest". */
    Path finish() throws IOException {
        Blob m = manifest();
        index("{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" + m.digest
                + "\",\"size\":" + m.size + ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}}");
        return dir;
    }
}
