package io.isola.vmm.sandbox;

import io.isola.vmm.catalog.Catalog;
import io.isola.vmm.catalog.CatalogException;
import io.isola.vmm.catalog.DigestVerifier;
import io.isola.vmm.hypervisor.VmSpec;
import java.nio.file.Path;
import java.util.List;

/** The kernel and base image a sandbox boots, as the catalog names them. */
public record GuestFiles(Catalog.Kernel kernel, Catalog.BaseImage baseImage) {

  /**
   * Picks by name; "" or null means the catalog's default kernel, and the base image built for
   * the chosen kernel (see {@link Catalog#baseImageFor}).
   */
  public static GuestFiles choose(Catalog catalog, String kernel, String baseImage) throws CatalogException {
    Catalog.Kernel k = catalog.kernel(kernel);
    return new GuestFiles(k, catalog.baseImageFor(k, baseImage));
  }

  /**
   * Checks both files against the catalog's sha256 before they are booted; verdicts are
   * remembered under the state root (see {@link DigestVerifier}).
   */
  public void verify(Path stateRoot) throws CatalogException {
    DigestVerifier verifier = new DigestVerifier(stateRoot.resolve("verified-digests"));
    verifier.verify(kernel.file(), kernel.sha256());
    verifier.verify(baseImage.file(), baseImage.sha256());
  }

  /** A VM of these guest files with the standard kernel command line. */
  public VmSpec vmSpec(String name, int vcpus, int memoryMib, List<VmSpec.Share> shares, Path runDirectory) {
    return new VmSpec(name, kernel.file(), baseImage.file(), GuestBoot.KERNEL_ARGS, vcpus, memoryMib, shares,
        runDirectory);
  }
}
