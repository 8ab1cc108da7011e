package io.isola.vmm.image;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A content digest of the only form isola accepts: {@code sha256:<64 lower-case hex>}.
 * Digests name blob files ({@code blobs/sha256/<hex>}), so anything looser would let an index
 * or manifest steer a read to an arbitrary path.
 */
public record Digest(String hex) {
    private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

    public Digest {
        if (hex == null || !HEX64.matcher(hex).matches()) {
            throw new IllegalArgumentException("not a sha256 hex digest: " + hex);
        }
    }

    /** Parses {@code sha256:<64 hex>}; rejects every other algorithm and shape. */
    public static Digest parse(String text) throws ImageException {
        if (text == null || !text.startsWith("sha256:")
                || !HEX64.matcher(text.substring("sha256:".length())).matches()) {
            throw new ImageException("unsupported or malformed digest (want sha256:<64 lower-case hex>): "
                    + printable(text));
        }
        return new Digest(text.substring("sha256:".length()));
    }

    static Digest ofBytes(byte[] sha256) {
        StringBuilder sb = new StringBuilder(64);
        for (byte b : sha256) {
            sb.append(String.format(Locale.ROOT, "%02x", b & 0xff));
        }
        return new Digest(sb.toString());
    }

    /** Relative path of the blob inside an OCI image layout. */
    public String layoutPath() {
        return "blobs/sha256/" + hex;
    }

    @Override
    public String toString() {
        return "sha256:" + hex;
    }

    /** Untrusted text goes into error messages only shortened and without control characters. */
    static String printable(String s) {
        if (s == null) {
            return "(missing)";
        }
        String cut = s.length() > 120 ? s.substring(0, 120) + "..." : s;
        StringBuilder sb = new StringBuilder();
        for (char c : cut.toCharArray()) {
            sb.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        return "\"" + sb + "\"";
    }
}
