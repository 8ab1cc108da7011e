package io.isola.vmm.daemon;

import io.grpc.stub.StreamObserver;
import io.isola.proto.v1.CatalogEntry;
import io.isola.proto.v1.GetHostInfoRequest;
import io.isola.proto.v1.HostGrpc;
import io.isola.proto.v1.HostInfo;
import io.isola.vmm.api.Tenants;
import io.isola.vmm.catalog.Catalog;
import io.isola.vmm.catalog.CatalogException;
import io.isola.vmm.qemu.AcceleratorProbe;
import java.nio.file.Path;

/** Version, accelerator and catalog. */
final class HostService extends HostGrpc.HostImplBase {
  static final String VERSION = "0.1.0";
  private final AcceleratorProbe.Verdict accelerator;
  private final Path catalog;
  private final java.util.function.IntSupplier warmVms;

  HostService(AcceleratorProbe.Verdict accelerator, Path catalog, java.util.function.IntSupplier warmVms) {
    this.accelerator = accelerator;
    this.catalog = catalog;
    this.warmVms = warmVms;
  }

  @Override
  public void getHostInfo(GetHostInfoRequest request, StreamObserver<HostInfo> response) {
    Calls.unary(response, () -> {
      HostInfo.Builder info = HostInfo.newBuilder().setVersion(VERSION)
          .setAccelerator(accelerator.accelerator().name()).setAcceleratorReason(accelerator.reason())
          .setTenant(Tenants.current().name()).setWarmVms(warmVms.getAsInt());
      try {
        Catalog c = Catalog.load(catalog);
        c.kernels().forEach(k -> info.addKernels(CatalogEntry.newBuilder().setName(k.name()).setSha256(k.sha256())
            .setDetail(k.release())));
        c.baseImages().forEach(b -> info.addBaseImages(CatalogEntry.newBuilder().setName(b.name())
            .setSha256(b.sha256()).setDetail(b.kind())));
      } catch (CatalogException e) {
        throw Failures.precondition(e.getMessage());
      }
      return info.build();
    });
  }
}
