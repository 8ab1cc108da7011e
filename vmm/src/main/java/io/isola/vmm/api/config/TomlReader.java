package io.isola.vmm.api.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Typed, path-aware access to a parsed TOML tree. Problems are collected (not thrown) so that one
 * run reports every bad key; each message starts with the dotted key ("tenants[1].quota.vcpus").
 */
final class TomlReader {

    final List<String> problems = new ArrayList<>();

    void problem(String message) {
        problems.add(message);
    }

    static String key(String prefix, String name) {
        return prefix.isEmpty() ? name : prefix + "." + name;
    }

    /** Reports keys of {@code table} that are not in {@code known}. */
    void onlyKnown(ObjectNode table, String prefix, Set<String> known) {
        for (Iterator<String> it = table.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!known.contains(k)) {
                problem("unknown key " + key(prefix, k) + " (known keys" + (prefix.isEmpty() ? "" : " in " + prefix)
                        + ": " + String.join(", ", known) + ")");
            }
        }
    }

    /** The sub-table {@code name}, or null if absent or not a table (reported). */
    ObjectNode table(ObjectNode parent, String prefix, String name) {
        JsonNode n = parent.get(name);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isObject()) {
            problem(key(prefix, name) + " must be a table ([" + key(prefix, name) + "])");
            return null;
        }
        return (ObjectNode) n;
    }

    /** The array {@code name}, or an empty array if absent or of the wrong type (reported). */
    ArrayNode array(ObjectNode parent, String prefix, String name, String example) {
        JsonNode n = parent.get(name);
        if (n == null || n.isNull()) {
            return parent.arrayNode();
        }
        if (!n.isArray()) {
            problem(key(prefix, name) + " must be an array (e.g. " + name + " = " + example + ")");
            return parent.arrayNode();
        }
        return (ArrayNode) n;
    }

    String string(ObjectNode t, String prefix, String name, String def) {
        JsonNode n = t == null ? null : t.get(name);
        if (n == null || n.isNull()) {
            return def;
        }
        if (!n.isTextual()) {
            problem(key(prefix, name) + " must be a string");
            return def;
        }
        return n.textValue();
    }

    /** A string that must be present (reports if missing); null on problems. */
    String requiredString(ObjectNode t, String prefix, String name) {
        if (t == null || !t.has(name)) {
            problem(key(prefix, name) + " is required");
            return null;
        }
        return string(t, prefix, name, null);
    }

    Path absolutePath(ObjectNode t, String prefix, String name, Path def, boolean required) {
        String s = required ? requiredString(t, prefix, name) : string(t, prefix, name, null);
        if (s == null) {
            return def;
        }
        return absolutePath(key(prefix, name), s, def);
    }

    Path absolutePath(String key, String s, Path def) {
        if (s.isEmpty() || s.indexOf('\0') >= 0) {
            problem(key + " must be a non-empty path");
            return def;
        }
        Path p;
        try {
            p = Path.of(s);
        } catch (RuntimeException e) {
            problem(key + " is not a valid path: " + e.getMessage());
            return def;
        }
        if (!p.isAbsolute()) {
            problem(key + " must be an absolute path (got \"" + s + "\")");
            return def;
        }
        return p.normalize();
    }

    long integer(ObjectNode t, String prefix, String name, long def, long min, long max) {
        JsonNode n = t == null ? null : t.get(name);
        if (n == null || n.isNull()) {
            return def;
        }
        return integer(key(prefix, name), n, def, min, max);
    }

    long integer(String key, JsonNode n, long def, long min, long max) {
        if (!n.isIntegralNumber() || !n.canConvertToLong()) {
            problem(key + " must be an integer");
            return def;
        }
        long v = n.longValue();
        if (v < min) {
            problem(key + " must be >= " + min + " (got " + v + ")");
            return def;
        }
        if (v > max) {
            problem(key + " must be <= " + max + " (got " + v + ")");
            return def;
        }
        return v;
    }

    /** A positive number (integer or float). */
    double number(ObjectNode t, String prefix, String name, double def, double minExclusive, double max) {
        JsonNode n = t == null ? null : t.get(name);
        if (n == null || n.isNull()) {
            return def;
        }
        if (!n.isNumber()) {
            problem(key(prefix, name) + " must be a number");
            return def;
        }
        double v = n.doubleValue();
        if (!(v > minExclusive) || v > max) {
            problem(key(prefix, name) + " must be > " + fmt(minExclusive) + " and <= " + fmt(max) + " (got " + fmt(v) + ")");
            return def;
        }
        return v;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) && !Double.isInfinite(d) ? Long.toString((long) d) : Double.toString(d);
    }

    boolean bool(ObjectNode t, String prefix, String name, boolean def) {
        JsonNode n = t == null ? null : t.get(name);
        if (n == null || n.isNull()) {
            return def;
        }
        if (!n.isBoolean()) {
            problem(key(prefix, name) + " must be true or false");
            return def;
        }
        return n.booleanValue();
    }
}
