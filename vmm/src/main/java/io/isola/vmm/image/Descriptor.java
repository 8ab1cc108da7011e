package io.isola.vmm.image;

import java.util.LinkedHashMap;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;

/** An OCI content descriptor, validated: the digest is well-formed and the size is non-negative. */
public record Descriptor(String mediaType, Digest digest, long size, String os, String architecture,
                         String variant, Map<String, String> annotations) {

    public Descriptor {
        annotations = Map.copyOf(annotations);
    }

    static Descriptor fromJson(JsonNode n, String where) throws ImageException {
        if (!n.isObject()) {
            throw new ImageException(where + ": descriptor is not an object");
        }
        Digest digest = Digest.parse(n.path("digest").isTextual() ? n.path("digest").asText() : null);
        JsonNode size = n.path("size");
        if (!size.canConvertToLong() || !size.isIntegralNumber() || size.asLong() < 0) {
            throw new ImageException(where + ": descriptor " + digest + " has no valid size");
        }
        Map<String, String> ann = new LinkedHashMap<>();
        n.path("annotations").properties().forEach(e -> {
            if (e.getValue().isTextual()) {
                ann.put(e.getKey(), e.getValue().asText());
            }
        });
        JsonNode p = n.path("platform");
        return new Descriptor(n.path("mediaType").asText(""), digest, size.asLong(),
                p.path("os").asText(""), p.path("architecture").asText(""), p.path("variant").asText(""), ann);
    }
}
