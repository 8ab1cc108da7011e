package io.isola.vmm.image;

import java.nio.file.Path;

/**
 * A root filesystem ready to share into the guest.
 *
 * @param path     the directory to share (for a plain rootfs image: the user's own directory)
 * @param unpacked true if isola unpacked it (and so owns and may delete it); false for a plain rootfs
 * @param stats    what unpacking did (all zero when nothing was unpacked)
 */
public record PreparedRootfs(Path path, boolean unpacked, LayerUnpacker.Stats stats) {
}
