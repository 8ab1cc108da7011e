package io.isola.vmm.image;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Hashes and counts every byte read through it, so a blob is checked against its descriptor while it
 * is consumed (no second pass, no whole-blob buffering). {@link #verify} drains what the consumer left
 * unread (tar padding, gzip trailer) so the digest always covers the whole blob.
 */
final class VerifyingInputStream extends FilterInputStream {
    private final MessageDigest sha256;
    private final String what;
    private long count;

    VerifyingInputStream(InputStream in, String what) {
        super(in);
        this.what = what;
        try {
            this.sha256 = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every Java runtime", e);
        }
    }

    @Override
    public int read() throws IOException {
        int b = in.read();
        if (b >= 0) {
            sha256.update((byte) b);
            count++;
        }
        return b;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
        int n = in.read(buf, off, len);
        if (n > 0) {
            sha256.update(buf, off, n);
            count += n;
        }
        return n;
    }

    @Override
    public long skip(long n) throws IOException {
        // Skipping would bypass the digest: read instead.
        byte[] buf = new byte[(int) Math.min(8192, Math.max(n, 1))];
        long done = 0;
        while (done < n) {
            int r = read(buf, 0, (int) Math.min(buf.length, n - done));
            if (r < 0) {
                break;
            }
            done += r;
        }
        return done;
    }

    @Override
    public boolean markSupported() {
        return false;
    }

    long count() {
        return count;
    }

    /** The digest of what has been read so far; call once, after reading to the end. */
    Digest digest() {
        return Digest.ofBytes(sha256.digest());
    }

    /** Reads to the end, then checks digest and (if {@code expectedSize >= 0}) size. */
    void verify(Digest expected, long expectedSize) throws IOException {
        byte[] buf = new byte[65536];
        while (read(buf, 0, buf.length) >= 0) {
            // drain
        }
        Digest actual = Digest.ofBytes(sha256.digest());
        if (!actual.equals(expected)) {
            throw new ImageException(what + ": digest mismatch: expected " + expected + ", content is " + actual);
        }
        if (expectedSize >= 0 && count != expectedSize) {
            throw new ImageException(what + " " + expected + ": size mismatch: descriptor says "
                    + expectedSize + " bytes, blob has " + count);
        }
    }
}
