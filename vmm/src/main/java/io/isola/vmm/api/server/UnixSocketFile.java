package io.isola.vmm.api.server;

import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Set;

/** File-system chores around the daemon's Unix socket: parent directory, stale socket, mode. */
public final class UnixSocketFile {

    private static final Set<PosixFilePermission> DIR_0755 = PosixFilePermissions.fromString("rwxr-xr-x");
    private static final Set<PosixFilePermission> SOCK_0666 = PosixFilePermissions.fromString("rw-rw-rw-");
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private UnixSocketFile() {
    }

    /**
     * Makes {@code socket} bindable: creates missing parent directories with mode 0755, and removes an
     * existing socket file only if nothing accepts connections on it (a leftover of a killed daemon).
     *
     * @throws IOException if another server listens there, or the path is something other than a socket
     */
    public static void prepare(Path socket) throws IOException {
        createParents(socket.toAbsolutePath().getParent());
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        int mode = (Integer) Files.getAttribute(socket, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new IOException(socket + " exists and is not a socket; not removing it (move it away or "
                    + "configure another daemon.socket)");
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(socket));
            throw new IOException("another server is already listening on " + socket
                    + " (is isolad running? stop it first)");
        } catch (ConnectException stale) {
            Files.deleteIfExists(socket);
        }
    }

    /** Sets the socket's mode to 0666: who may do what is decided per call from the peer's uid. */
    public static void makeWorldConnectable(Path socket) throws IOException {
        Files.setPosixFilePermissions(socket, SOCK_0666);
    }

    private static void createParents(Path dir) throws IOException {
        Deque<Path> missing = new ArrayDeque<>();
        for (Path p = dir; p != null && !Files.isDirectory(p); p = p.getParent()) {
            missing.push(p);
        }
        while (!missing.isEmpty()) {
            Path p = missing.pop();
            try {
                Files.createDirectory(p);
                Files.setPosixFilePermissions(p, DIR_0755); // independent of the umask
            } catch (FileAlreadyExistsException raced) {
                if (!Files.isDirectory(p)) {
                    throw raced;
                }
            }
        }
    }
}
