package io.isola.vmm.image;

import java.nio.file.Path;

/**
 * A root filesystem ready to share into the guest (in QEMU's 9p mapped-xattr format, see
 * {@link MappedAttributes}).
 *
 * @param path     the directory to share
 * @param unpacked true if isola wrote it (and so owns and may delete it); always true now that a plain
 *                 rootfs directory is copied too, never shared in place
 * @param stats    what unpacking or copying did
 */
public record PreparedRootfs(Path path, boolean unpacked, LayerUnpacker.Stats stats) {
}
