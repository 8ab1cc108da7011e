package io.isola.vmm.api;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.isola.proto.v1.GetHostInfoRequest;
import io.isola.proto.v1.HostGrpc;
import io.isola.proto.v1.HostInfo;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Run in a child JVM (as another uid) by {@link UnixSocketServerTest}: calls Host.GetHostInfo over the
 * Unix socket and prints "OK tenant" or "ERR CODE description".
 */
public final class PeerProbe {
    public static void main(String[] args) throws Exception {
        ManagedChannel ch = ApiClients.unix(Path.of(args[0]));
        try {
            HostInfo info = HostGrpc.newBlockingStub(ch).withDeadlineAfter(20, TimeUnit.SECONDS)
                    .getHostInfo(GetHostInfoRequest.getDefaultInstance());
            System.out.println("OK " + info.getTenant());
        } catch (StatusRuntimeException e) {
            System.out.println("ERR " + e.getStatus().getCode() + " " + e.getStatus().getDescription());
        } finally {
            ch.shutdownNow();
            ch.awaitTermination(2, TimeUnit.SECONDS);
        }
        System.exit(0);
    }
}
