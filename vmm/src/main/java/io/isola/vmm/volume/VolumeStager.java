package io.isola.vmm.volume;

import io.isola.vmm.image.RunOptions;
import io.isola.vmm.util.FileTrees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;

/**
 * Puts a container's volumes where its guest can reach them. A host source is bind-mounted into
 * one of the sandbox's 9p shares: writable ones into the rootfs share (guest-owned attributes
 * in xattrs, so nothing the guest creates there is honoured as set-uid or a device by the
 * host), read-only ones into the read-only share (host attributes and symlinks shown as they
 * are; QEMU refuses every write, so the guest cannot make it writable). crun in the guest then
 * binds the share's path onto the destination. tmpfs volumes need nothing on the host.
 */
public final class VolumeStager {
  /** Where the agent mounts share {@code <tag>} in the guest. */
  public static final String GUEST_SHARES = "/run/isola/shares";
  /** The sandbox's read-only share: read-only volumes and generated /etc files. */
  public static final String READ_ONLY_TAG = "ro";
  /** Generated files every container of the sandbox sees (hosts, hostname, resolv.conf). */
  static final String ETC = ".etc";

  private final Path writableShare;
  private final String writableTag;
  private final Path readOnlyShare;
  private final VolumeRoots roots;
  private final OptionalLong confinedUid;

  /**
   * @param confinedUid the uid the sandbox's QEMU runs as when jailed: volume sources must be
   *     open to it, since it serves them with no privilege of its own
   */
  public VolumeStager(Path writableShare, String writableTag, Path readOnlyShare, VolumeRoots roots,
      OptionalLong confinedUid) {
    this.writableShare = writableShare;
    this.writableTag = writableTag;
    this.readOnlyShare = readOnlyShare;
    this.roots = roots;
    this.confinedUid = confinedUid;
  }

  /** The guest-side mounts for {@code volumes}; on failure nothing stays mounted. */
  public List<RunOptions.Mount> stage(String containerId, List<VolumeRequest> volumes)
      throws VolumeException, IOException {
    List<RunOptions.Mount> mounts = new ArrayList<>();
    try {
      int n = 0;
      for (VolumeRequest v : volumes) {
        if (v.isTmpfs()) {
          List<String> options = new ArrayList<>(List.of("nosuid", "nodev", "mode=1777"));
          if (v.sizeBytes() > 0) {
            options.add("size=" + Math.max(1, v.sizeBytes() / 1024) + "k");
          }
          mounts.add(new RunOptions.Mount(v.destination(), "tmpfs", "tmpfs", options));
          continue;
        }
        Path source = roots.check(v.source());
        if (confinedUid.isPresent()) {
          checkOpenTo(source, v.readOnly(), confinedUid.getAsLong());
        }
        String name = "v" + n++;
        Path target = v.readOnly() ? readOnlyShare.resolve(containerId).resolve(name)
            : writableShare.resolve(containerId).resolve("volumes").resolve(name);
        String guestSource = GUEST_SHARES + "/" + (v.readOnly()
            ? READ_ONLY_TAG + "/" + containerId + "/" + name
            : writableTag + "/" + containerId + "/volumes/" + name);
        placeholder(target, Files.isDirectory(source));
        BindMounts.bind(source, target, v.readOnly());
        mounts.add(new RunOptions.Mount(v.destination(), "bind", guestSource,
            List.of("rbind", v.readOnly() ? "ro" : "rw", "nosuid", "nodev")));
      }
      return mounts;
    } catch (VolumeException | IOException | RuntimeException e) {
      release(containerId);
      throw e;
    }
  }

  /**
   * A jailed QEMU reads and writes a volume as its own uid, a fresh one per sandbox, so the host's
   * permissions must let others in. Said here, before the container exists, rather than as a
   * permission error inside it.
   */
  static void checkOpenTo(Path source, boolean readOnly, long uid) throws VolumeException, IOException {
    PosixFileAttributes a = Files.readAttributes(source, PosixFileAttributes.class);
    boolean owner = ((Number) Files.getAttribute(source, "unix:uid")).longValue() == uid;
    Set<PosixFilePermission> p = a.permissions();
    boolean read = owner ? p.contains(PosixFilePermission.OWNER_READ) : p.contains(PosixFilePermission.OTHERS_READ);
    boolean write = owner ? p.contains(PosixFilePermission.OWNER_WRITE) : p.contains(PosixFilePermission.OTHERS_WRITE);
    boolean search = !a.isDirectory()
        || (owner ? p.contains(PosixFilePermission.OWNER_EXECUTE) : p.contains(PosixFilePermission.OTHERS_EXECUTE));
    if (!read || !search) {
      throw new VolumeException("volume " + source + " is not readable by the sandbox's confined hypervisor "
          + "(it runs as a uid of its own): make it readable by others (chmod o+r" + (a.isDirectory() ? "x" : "") + ")");
    }
    if (!readOnly && !write) {
      throw new VolumeException("volume " + source + " is not writable by the sandbox's confined hypervisor "
          + "(it runs as a uid of its own): make it writable by others (chmod o+w), or mount it read-only");
    }
  }

  /** An empty directory or file to mount on; the parents are made as real directories. */
  private static void placeholder(Path target, boolean directory) throws IOException {
    Files.createDirectories(target.getParent());
    if (!Files.isDirectory(target.getParent(), LinkOption.NOFOLLOW_LINKS)) {
      throw new IOException(target.getParent() + " is not a directory");
    }
    if (directory) {
      Files.createDirectory(target);
    } else {
      Files.createFile(target);
    }
  }

  /** Unmounts and removes what {@link #stage} made for a container; IOException if a mount stays. */
  public void release(String containerId) throws IOException {
    BindMounts.unmountAllUnder(readOnlyShare.resolve(containerId));
    BindMounts.unmountAllUnder(writableShare.resolve(containerId));
    FileTrees.deleteTree(readOnlyShare.resolve(containerId));
    FileTrees.deleteTree(writableShare.resolve(containerId).resolve("volumes"));
  }

  /** Unmounts every volume of the sandbox (its removal, or recovery after a crash). */
  public static void releaseAll(Path writableShare, Path readOnlyShare) throws IOException {
    BindMounts.unmountAllUnder(readOnlyShare);
    BindMounts.unmountAllUnder(writableShare);
  }

  /**
   * Writes the sandbox's /etc/hosts, /etc/hostname and (when there are resolvers)
   * /etc/resolv.conf into the read-only share; returns the mounts that show them to a container.
   */
  public static List<RunOptions.Mount> writeEtcFiles(Path readOnlyShare, String hostname, List<String> addresses,
      List<String> dnsServers, List<String> dnsSearches) throws IOException {
    Path etc = readOnlyShare.resolve(ETC);
    Files.createDirectories(etc);
    StringBuilder hosts = new StringBuilder("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for (String cidr : addresses) {
      hosts.append(cidr.substring(0, cidr.indexOf('/'))).append('\t').append(hostname).append('\n');
    }
    if (addresses.isEmpty()) {
      hosts.append("127.0.1.1\t").append(hostname).append('\n');
    }
    Files.writeString(etc.resolve("hosts"), hosts);
    Files.writeString(etc.resolve("hostname"), hostname + "\n");
    List<RunOptions.Mount> mounts = new ArrayList<>();
    mounts.add(etcMount("hosts"));
    mounts.add(etcMount("hostname"));
    if (!dnsServers.isEmpty()) {
      StringBuilder resolv = new StringBuilder();
      for (String d : dnsServers) {
        resolv.append("nameserver ").append(d).append('\n');
      }
      if (!dnsSearches.isEmpty()) {
        resolv.append("search ").append(String.join(" ", dnsSearches)).append('\n');
      }
      Files.writeString(etc.resolve("resolv.conf"), resolv);
      mounts.add(etcMount("resolv.conf"));
    }
    return mounts;
  }

  private static RunOptions.Mount etcMount(String name) {
    return new RunOptions.Mount("/etc/" + name, "bind", GUEST_SHARES + "/" + READ_ONLY_TAG + "/" + ETC + "/" + name,
        List.of("rbind", "ro", "nosuid", "nodev"));
  }

  /** The generated /etc mounts of an existing sandbox (written at its creation). */
  public static List<RunOptions.Mount> etcMounts(Path readOnlyShare) {
    List<RunOptions.Mount> mounts = new ArrayList<>();
    for (String name : List.of("hosts", "hostname", "resolv.conf")) {
      if (Files.isRegularFile(readOnlyShare.resolve(ETC).resolve(name), LinkOption.NOFOLLOW_LINKS)) {
        mounts.add(etcMount(name));
      }
    }
    return mounts;
  }
}
