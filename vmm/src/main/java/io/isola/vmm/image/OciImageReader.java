package io.isola.vmm.image;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Walks an OCI image layout: index.json → (nested indexes) → one image manifest → config blob and
 * layer descriptors. Every JSON document is size-bounded and every blob is checked against its digest
 * before it is parsed, so a tampered layout fails here rather than somewhere downstream.
 */
final class OciImageReader {
    /** Index, manifest and config documents are small; a bigger one is hostile or broken. */
    static final int MAX_JSON_BYTES = 4 * 1024 * 1024;
    private static final int MAX_INDEX_DEPTH = 4;

    static final String REF_NAME = "org.opencontainers.image.ref.name";
    static final String CONTAINERD_NAME = "io.containerd.image.name";

    private static final Set<String> INDEX_TYPES = Set.of(
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json");
    private static final Set<String> MANIFEST_TYPES = Set.of(
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json");

    // Duplicate keys are rejected: two parsers reading one document two ways is a classic bypass.
    static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    /** What the reader found: the chosen manifest, the image config and the layers in apply order. */
    record Result(Digest manifestDigest, ImageConfig config, List<Descriptor> layers, List<Digest> diffIds) {
    }

    private final BlobStore store;

    OciImageReader(BlobStore store) {
        this.store = store;
    }

    /** @param ref tag to select ({@code org.opencontainers.image.ref.name}) or null for "the only / linux/amd64" */
    Result read(String ref) throws IOException {
        JsonNode layout = parse(readFile("oci-layout"), "oci-layout");
        if (!"1.0.0".equals(layout.path("imageLayoutVersion").asText())) {
            throw new ImageException(store.describe() + ": unsupported imageLayoutVersion "
                    + Digest.printable(layout.path("imageLayoutVersion").asText(null)));
        }
        JsonNode index = parse(readFile("index.json"), "index.json");
        Descriptor chosen = select(index, ref, "index.json");
        for (int depth = 0; ; depth++) {
            byte[] doc = readBlob(chosen, "manifest");
            JsonNode node = parse(doc, chosen.digest().toString());
            if (isIndex(chosen, node)) {
                if (depth >= MAX_INDEX_DEPTH) {
                    throw new ImageException(store.describe() + ": image indexes nested too deeply");
                }
                chosen = select(node, null, "index " + chosen.digest());
                continue;
            }
            return readManifest(chosen.digest(), node);
        }
    }

    private Result readManifest(Digest manifestDigest, JsonNode m) throws IOException {
        String mt = m.path("mediaType").asText("");
        if (!mt.isEmpty() && !MANIFEST_TYPES.contains(mt)) {
            throw new ImageException("manifest " + manifestDigest + " has unsupported mediaType " + Digest.printable(mt));
        }
        Descriptor configDesc = Descriptor.fromJson(m.path("config"), "manifest " + manifestDigest + " config");
        JsonNode config = parse(readBlob(configDesc, "image config"), "image config " + configDesc.digest());
        String os = config.path("os").asText("");
        if (!os.isEmpty() && !os.equals("linux")) {
            throw new ImageException("image is for os " + Digest.printable(os) + "; isola runs linux images");
        }
        List<Descriptor> layers = new ArrayList<>();
        JsonNode ls = m.path("layers");
        if (!ls.isArray()) {
            throw new ImageException("manifest " + manifestDigest + " has no layers array");
        }
        for (JsonNode l : ls) {
            layers.add(Descriptor.fromJson(l, "manifest " + manifestDigest + " layer"));
        }
        List<Digest> diffIds = new ArrayList<>();
        JsonNode ids = config.path("rootfs").path("diff_ids");
        if (ids.isArray()) {
            for (JsonNode id : ids) {
                diffIds.add(Digest.parse(id.asText(null)));
            }
            if (diffIds.size() != layers.size()) {
                throw new ImageException("image config lists " + diffIds.size() + " diff_ids but the manifest has "
                        + layers.size() + " layers");
            }
        }
        return new Result(manifestDigest, ImageConfig.fromConfigBlob(config), layers, diffIds);
    }

    private static boolean isIndex(Descriptor d, JsonNode node) {
        if (INDEX_TYPES.contains(d.mediaType())) {
            return true;
        }
        if (MANIFEST_TYPES.contains(d.mediaType())) {
            return false;
        }
        return INDEX_TYPES.contains(node.path("mediaType").asText("")) || node.has("manifests");
    }

    /** Picks one entry of an index: by ref if given, else the only one, else the linux/amd64 one. */
    private Descriptor select(JsonNode index, String ref, String where) throws ImageException {
        JsonNode ms = index.path("manifests");
        if (!ms.isArray() || ms.isEmpty()) {
            throw new ImageException(store.describe() + ": " + where + " lists no manifests");
        }
        List<Descriptor> all = new ArrayList<>();
        for (JsonNode n : ms) {
            Descriptor d = Descriptor.fromJson(n, where);
            // buildx attestation manifests ride along in indexes; they are not runnable images.
            if ("attestation-manifest".equals(d.annotations().get("vnd.docker.reference.type"))) {
                continue;
            }
            all.add(d);
        }
        List<Descriptor> candidates = all;
        if (ref != null && !ref.isEmpty()) {
            candidates = all.stream().filter(d -> matchesRef(d, ref)).collect(Collectors.toList());
            if (candidates.isEmpty()) {
                throw new ImageException(store.describe() + ": no image tagged " + Digest.printable(ref)
                        + "; tags present: " + refs(all));
            }
        }
        if (candidates.size() == 1) {
            return candidates.get(0);
        }
        List<Descriptor> amd64 = candidates.stream()
                .filter(d -> d.os().equals("linux") && d.architecture().equals("amd64"))
                .collect(Collectors.toList());
        if (amd64.size() == 1) {
            return amd64.get(0);
        }
        long distinctRefs = amd64.stream().map(d -> d.annotations().get(REF_NAME)).distinct().count();
        if (amd64.size() > 1 && distinctRefs == 1) {
            return amd64.get(0); // same tag listed twice (e.g. variants): take the first, as containerd does
        }
        throw new ImageException(store.describe() + ": " + where + " has " + candidates.size()
                + " manifests and " + (amd64.isEmpty() ? "none" : "several") + " for linux/amd64"
                + "; choose one by tag (tags present: " + refs(all) + ")");
    }

    private static boolean matchesRef(Descriptor d, String ref) {
        String tag = d.annotations().get(REF_NAME);
        String name = d.annotations().get(CONTAINERD_NAME);
        return ref.equals(tag) || ref.equals(name) || (name != null && name.endsWith(":" + ref));
    }

    private static String refs(List<Descriptor> ds) {
        String s = ds.stream().map(d -> d.annotations().get(REF_NAME)).filter(Objects::nonNull)
                .map(Digest::printable).collect(Collectors.joining(", "));
        return s.isEmpty() ? "(none)" : s;
    }

    private byte[] readBlob(Descriptor d, String what) throws IOException {
        if (d.size() > MAX_JSON_BYTES) {
            throw new ImageException(what + " " + d.digest() + " is " + d.size() + " bytes; limit is " + MAX_JSON_BYTES);
        }
        try (VerifyingInputStream in = new VerifyingInputStream(store.openBlob(d.digest()), what)) {
            byte[] bytes = readBounded(in, what + " " + d.digest());
            in.verify(d.digest(), d.size());
            return bytes;
        }
    }

    private byte[] readFile(String layoutPath) throws IOException {
        try (InputStream in = store.open(layoutPath)) {
            return readBounded(in, layoutPath);
        }
    }

    private static byte[] readBounded(InputStream in, String what) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        int n;
        while ((n = in.read(buf)) >= 0) {
            out.write(buf, 0, n);
            if (out.size() > MAX_JSON_BYTES) {
                throw new ImageException(what + " is larger than " + MAX_JSON_BYTES + " bytes");
            }
        }
        return out.toByteArray();
    }

    private static JsonNode parse(byte[] doc, String what) throws ImageException {
        try {
            JsonNode n = JSON.readTree(doc);
            if (n == null || !n.isObject()) {
                throw new ImageException(what + " is not a JSON object");
            }
            return n;
        } catch (IOException e) {
            if (e instanceof ImageException) {
                throw (ImageException) e;
            }
            String msg = e instanceof JsonProcessingException ? ((JsonProcessingException) e).getOriginalMessage()
                    : e.getMessage();
            throw new ImageException(what + " is not valid JSON: " + msg, e);
        }
    }
}
