package io.isola.vmm.sandbox;

import io.isola.vmm.image.RunOptions;
import java.nio.file.Path;

/** Everything `isola run` was asked to do, validated by the command line. */
public record RunRequest(Path image, RunOptions options, boolean interactive, boolean terminal, int memoryMib,
    int vcpus, String kernel, String baseImage, boolean removeWhenDone, Path catalog, Path runRoot,
    Path stateRoot, Path qemu) {}
