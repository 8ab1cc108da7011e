package io.isola.vmm.api;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import io.isola.vmm.api.config.DaemonConfig;
import io.isola.vmm.api.server.DeadlineInterceptor;
import io.isola.vmm.api.server.PeerCredentialsNegotiator;
import io.isola.vmm.api.server.TenantDirectory;
import io.isola.vmm.api.server.TenantInterceptor;
import io.isola.vmm.api.server.TlsContexts;
import io.isola.vmm.api.server.UnixSocketFile;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The public API listeners of isolad: always a Unix socket ({@code daemon.socket}, mode 0666, caller
 * identified by SO_PEERCRED uid), plus a mutual-TLS TCP listener only if {@code [tls]} is configured
 * (caller identified by client-certificate subject). There is never a plaintext TCP listener.
 *
 * <p>Every call passes {@link TenantInterceptor} (unknown peers: PERMISSION_DENIED; service code
 * reads {@link Tenants#current()}) and then {@link DeadlineInterceptor} (unary calls get
 * {@code daemon.unary_timeout_seconds}).
 */
public final class ApiServer implements AutoCloseable {
    /**
     * Calls that boot or stop a VM: under software emulation on a busy host a boot alone can take
     * a minute, so they get a longer budget than ordinary calls. The service rolls back a
     * creation whose call was cancelled meanwhile, so nothing is left that nobody knows of.
     */
    static final Map<String, Duration> SLOW_METHODS = Map.of(
            "isola.v1.Sandboxes/CreateSandbox", Duration.ofMinutes(5),
            "isola.v1.Sandboxes/StopSandbox", Duration.ofMinutes(5),
            "isola.v1.Sandboxes/DeleteSandbox", Duration.ofMinutes(5),
            "isola.v1.Containers/CreateContainer", Duration.ofMinutes(5),
            "isola.v1.Containers/DeleteContainer", Duration.ofMinutes(5));


    private final List<Server> servers;
    private final List<EventLoopGroup> groups;
    private final ScheduledExecutorService timers;
    private final Path socket;
    private final InetSocketAddress tlsAddress;

    private ApiServer(List<Server> servers, List<EventLoopGroup> groups, ScheduledExecutorService timers,
                      Path socket, InetSocketAddress tlsAddress) {
        this.servers = servers;
        this.groups = groups;
        this.timers = timers;
        this.socket = socket;
        this.tlsAddress = tlsAddress;
    }

    /**
     * Starts the listeners. On failure everything started so far is stopped again.
     *
     * @throws IOException if the socket is in use by a live server, a TLS file is unreadable, or binding fails
     */
    public static ApiServer start(DaemonConfig config, List<? extends BindableService> services) throws IOException {
        List<Server> servers = new ArrayList<>();
        List<EventLoopGroup> groups = new ArrayList<>();
        ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(
                new DefaultThreadFactory("isolad-deadlines", true));
        TenantInterceptor auth = new TenantInterceptor(TenantDirectory.from(config));
        DeadlineInterceptor deadlines = new DeadlineInterceptor(timers, config.daemon().unaryTimeout(),
                SLOW_METHODS, DeadlineInterceptor.DEFAULT_EXEMPT);
        Path socket = config.daemon().socket();
        InetSocketAddress tlsBound = null;
        try {
            UnixSocketFile.prepare(socket);
            EventLoopGroup udsBoss = group(groups, "isolad-uds-boss", 1);
            EventLoopGroup udsWorkers = group(groups, "isolad-uds", 0);
            NettyServerBuilder uds = NettyServerBuilder
                    .forAddress(new DomainSocketAddress(socket.toString()), PeerCredentialsNegotiator.serverCredentials())
                    .channelType(EpollServerDomainSocketChannel.class)
                    .bossEventLoopGroup(udsBoss)
                    .workerEventLoopGroup(udsWorkers)
                    .withChildOption(ChannelOption.SO_KEEPALIVE, null);
            servers.add(finish(uds, services, auth, deadlines).start());
            UnixSocketFile.makeWorldConnectable(socket);

            Optional<DaemonConfig.Tls> tls = config.tls();
            if (tls.isPresent()) {
                DaemonConfig.Tls t = tls.get();
                EventLoopGroup tcpBoss = group(groups, "isolad-tls-boss", 1);
                EventLoopGroup tcpWorkers = group(groups, "isolad-tls", 0);
                NettyServerBuilder tcp = NettyServerBuilder
                        .forAddress(new InetSocketAddress(t.host(), t.port()))
                        .channelType(EpollServerSocketChannel.class)
                        .bossEventLoopGroup(tcpBoss)
                        .workerEventLoopGroup(tcpWorkers)
                        .sslContext(TlsContexts.server(t.cert(), t.key(), t.clientCa()));
                Server s = finish(tcp, services, auth, deadlines).start();
                servers.add(s);
                tlsBound = (InetSocketAddress) s.getListenSockets().get(0);
            }
            return new ApiServer(servers, groups, timers, socket, tlsBound);
        } catch (IOException | RuntimeException e) {
            shutdown(servers, groups, timers);
            throw e;
        }
    }

    private static Server finish(NettyServerBuilder b, List<? extends BindableService> services,
                                 TenantInterceptor auth, DeadlineInterceptor deadlines) {
        b.maxInboundMessageSize(4 << 20);
        for (BindableService s : services) {
            b.addService(s);
        }
        // Interceptors run in reverse order of registration: authentication first, then the budget.
        b.intercept(deadlines);
        b.intercept(auth);
        return b.build();
    }

    private static EventLoopGroup group(List<EventLoopGroup> groups, String name, int threads) {
        EventLoopGroup g = new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true),
                EpollIoHandler.newFactory());
        groups.add(g);
        return g;
    }

    /** The Unix socket path the API listens on. */
    public Path unixSocket() {
        return socket;
    }

    /** The bound TLS address (with the real port if the configured port was 0), if [tls] is configured. */
    public Optional<InetSocketAddress> tlsAddress() {
        return Optional.ofNullable(tlsAddress);
    }

    /** Blocks until both listeners have terminated (after {@link #close()} from another thread). */
    public void awaitTermination() throws InterruptedException {
        for (Server s : servers) {
            s.awaitTermination();
        }
    }

    /** Stops accepting, gives running calls up to 5 s, then cancels them; removes the socket file. */
    @Override
    public void close() {
        shutdown(servers, groups, timers);
    }

    private static void shutdown(List<Server> servers, List<EventLoopGroup> groups, ScheduledExecutorService timers) {
        for (Server s : servers) {
            s.shutdown();
        }
        boolean interrupted = false;
        for (Server s : servers) {
            try {
                if (!s.awaitTermination(5, TimeUnit.SECONDS)) {
                    s.shutdownNow();
                    s.awaitTermination(2, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                interrupted = true;
                s.shutdownNow();
            }
        }
        for (EventLoopGroup g : groups) {
            g.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        }
        for (EventLoopGroup g : groups) {
            g.terminationFuture().awaitUninterruptibly(2, TimeUnit.SECONDS);
        }
        timers.shutdownNow();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
