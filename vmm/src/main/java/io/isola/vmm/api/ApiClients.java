package io.isola.vmm.api;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.netty.shaded.io.grpc.netty.NegotiationType;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.MultiThreadIoEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollIoHandler;
import io.grpc.netty.shaded.io.netty.channel.nio.NioIoHandler;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import io.isola.vmm.api.server.TlsContexts;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Client channels to isolad. Each channel owns a one-thread event loop group with daemon threads,
 * released when the channel is shut down (the CLI "exit fix": no shared gRPC event loop left in
 * epoll_wait at JVM exit). For the fastest CLI exit: {@code ch.shutdownNow(); ch.awaitTermination(1, SECONDS);}
 * then {@code System.exit(code)}.
 */
public final class ApiClients {

    private ApiClients() {
    }

    /** A plaintext channel over the daemon's Unix socket; the daemon identifies us by our uid. */
    public static ManagedChannel unix(Path socket) {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("isola-client", true),
                EpollIoHandler.newFactory());
        ManagedChannel ch = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class)
                .eventLoopGroup(group)
                .withOption(ChannelOption.SO_KEEPALIVE, null)
                .overrideAuthority("localhost")
                .usePlaintext()
                .build();
        return new OwnedGroupChannel(ch, group);
    }

    /**
     * A mutual-TLS channel to a remote daemon.
     *
     * @param certChain  our client certificate (PEM), whose subject the daemon maps to a tenant
     * @param key        its private key (PKCS#8 PEM)
     * @param ca         the CA (PEM) the server certificate must chain to; the host name is verified
     */
    public static ManagedChannel tls(String host, int port, Path certChain, Path key, Path ca) throws IOException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("isola-client", true),
                NioIoHandler.newFactory());
        ManagedChannel ch = NettyChannelBuilder.forAddress(host, port)
                .channelType(NioSocketChannel.class)
                .eventLoopGroup(group)
                .negotiationType(NegotiationType.TLS)
                .sslContext(TlsContexts.client(certChain, key, ca))
                .build();
        return new OwnedGroupChannel(ch, group);
    }

    /** A channel that shuts its own event loop group down (quickly) once the channel is shut down. */
    static final class OwnedGroupChannel extends ManagedChannel {
        private final ManagedChannel delegate;
        private final EventLoopGroup group;

        OwnedGroupChannel(ManagedChannel delegate, EventLoopGroup group) {
            this.delegate = delegate;
            this.group = group;
        }

        @Override
        public ManagedChannel shutdown() {
            delegate.shutdown();
            Thread t = new Thread(() -> {
                try {
                    delegate.awaitTermination(30, TimeUnit.SECONDS);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
                group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            }, "isola-client-close");
            t.setDaemon(true);
            t.start();
            return this;
        }

        @Override
        public ManagedChannel shutdownNow() {
            delegate.shutdownNow();
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            return this;
        }

        @Override
        public boolean isShutdown() {
            return delegate.isShutdown();
        }

        @Override
        public boolean isTerminated() {
            return delegate.isTerminated() && group.isTerminated();
        }

        @Override
        public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
            long end = System.nanoTime() + unit.toNanos(timeout);
            if (!delegate.awaitTermination(timeout, unit)) {
                return false;
            }
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            long left = end - System.nanoTime();
            return left > 0 && group.terminationFuture().await(left, TimeUnit.NANOSECONDS);
        }

        @Override
        public <Q, R> ClientCall<Q, R> newCall(MethodDescriptor<Q, R> method, CallOptions options) {
            return delegate.newCall(method, options);
        }

        @Override
        public String authority() {
            return delegate.authority();
        }

        @Override
        public ConnectivityState getState(boolean requestConnection) {
            return delegate.getState(requestConnection);
        }

        @Override
        public void notifyWhenStateChanged(ConnectivityState source, Runnable callback) {
            delegate.notifyWhenStateChanged(source, callback);
        }

        @Override
        public void resetConnectBackoff() {
            delegate.resetConnectBackoff();
        }

        @Override
        public void enterIdle() {
            delegate.enterIdle();
        }
    }
}
