package io.isola.vmm.image;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The parts of an OCI image configuration ({@code config} object of the config blob) that decide
 * how the container process starts. Lists are never null; absent strings are empty.
 */
public record ImageConfig(List<String> env, List<String> entrypoint, List<String> cmd,
                          String workingDir, String user, String stopSignal) {

    /** What a plain root filesystem directory brings: nothing. */
    public static final ImageConfig EMPTY = new ImageConfig(List.of(), List.of(), List.of(), "", "", "");

    public ImageConfig {
        env = List.copyOf(env);
        entrypoint = List.copyOf(entrypoint);
        cmd = List.copyOf(cmd);
        workingDir = workingDir == null ? "" : workingDir;
        user = user == null ? "" : user;
        stopSignal = stopSignal == null ? "" : stopSignal;
    }

    /** Reads the {@code config} member of an image config blob (may be missing or null). */
    static ImageConfig fromConfigBlob(JsonNode root) throws ImageException {
        JsonNode c = root.path("config");
        if (c.isMissingNode() || c.isNull()) {
            return EMPTY;
        }
        if (!c.isObject()) {
            throw new ImageException("image config: \"config\" is not an object");
        }
        return new ImageConfig(strings(c, "Env"), strings(c, "Entrypoint"), strings(c, "Cmd"),
                string(c, "WorkingDir"), string(c, "User"), string(c, "StopSignal"));
    }

    private static List<String> strings(JsonNode c, String field) throws ImageException {
        JsonNode n = c.path(field);
        if (n.isMissingNode() || n.isNull()) {
            return List.of();
        }
        if (!n.isArray()) {
            throw new ImageException("image config: " + field + " is not an array of strings");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : n) {
            if (!e.isTextual()) {
                throw new ImageException("image config: " + field + " is not an array of strings");
            }
            out.add(e.asText());
        }
        return out;
    }

    private static String string(JsonNode c, String field) throws ImageException {
        JsonNode n = c.path(field);
        if (n.isMissingNode() || n.isNull()) {
            return "";
        }
        if (!n.isTextual()) {
            throw new ImageException("image config: " + field + " is not a string");
        }
        return n.asText();
    }
}
