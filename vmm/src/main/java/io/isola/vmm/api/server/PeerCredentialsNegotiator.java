package io.isola.vmm.api.server;

import io.grpc.Attributes;
import io.grpc.ServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.shaded.io.grpc.netty.InternalNettyServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiationEvent;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiators;
import io.grpc.netty.shaded.io.grpc.netty.ProtocolNegotiationEvent;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandler;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.PeerCredentials;
import io.grpc.netty.shaded.io.netty.util.AsciiString;

import java.io.IOException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Plaintext server negotiation for the Unix socket that records the kernel's SO_PEERCRED of each
 * accepted connection in the transport {@link Attributes} ({@link #PEER_UID}, {@link #PEER_PID},
 * {@link #PEER_GID}); interceptors read them with {@code call.getAttributes()}.
 *
 * <p>How: grpc-netty fires a {@link ProtocolNegotiationEvent} down the new connection's pipeline
 * once per connection, before any HTTP/2 byte is processed; the handler it eventually reaches
 * hands the event's attributes to the transport. Our handler sits first, calls
 * {@link EpollDomainSocketChannel#peerCredentials()} (getsockopt SO_PEERCRED), adds the values to
 * the event and replaces itself with grpc's own plaintext handler chain. If the credentials cannot
 * be read, the connection is closed; it never reaches a service.
 *
 * <p>Why it cannot be spoofed: SO_PEERCRED is filled in by the kernel at connect() time from the
 * connecting process's credentials; a client cannot send or change it, and it is bound to the
 * connection, not to anything in the request (no metadata is trusted).
 */
public final class PeerCredentialsNegotiator implements InternalProtocolNegotiator.ProtocolNegotiator {

    private static final Logger LOG = Logger.getLogger(PeerCredentialsNegotiator.class.getName());

    /** Unsigned uid of the connecting process (SO_PEERCRED). */
    public static final Attributes.Key<Long> PEER_UID = Attributes.Key.create("isola.peer-uid");
    /** Unsigned gid of the connecting process (SO_PEERCRED). */
    public static final Attributes.Key<Long> PEER_GID = Attributes.Key.create("isola.peer-gid");
    /** Pid of the connecting process at connect time (SO_PEERCRED), informational only. */
    public static final Attributes.Key<Integer> PEER_PID = Attributes.Key.create("isola.peer-pid");

    private final InternalProtocolNegotiator.ProtocolNegotiator plaintext = InternalProtocolNegotiators.serverPlaintext();

    /** Server credentials for {@code NettyServerBuilder.forAddress(domainSocketAddress, credentials)}. */
    public static ServerCredentials serverCredentials() {
        return InternalNettyServerCredentials.create(new PeerCredentialsNegotiator());
    }

    @Override
    public AsciiString scheme() {
        return plaintext.scheme();
    }

    @Override
    public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
        return new PeerCredentialsHandler(plaintext.newHandler(grpcHandler));
    }

    @Override
    public void close() {
        plaintext.close();
    }

    static final class PeerCredentialsHandler extends ChannelInboundHandlerAdapter {
        private final ChannelHandler next;

        PeerCredentialsHandler(ChannelHandler next) {
            this.next = next;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (!(evt instanceof ProtocolNegotiationEvent)) {
                super.userEventTriggered(ctx, evt);
                return;
            }
            ProtocolNegotiationEvent pne = (ProtocolNegotiationEvent) evt;
            PeerCredentials cred;
            try {
                if (!(ctx.channel() instanceof EpollDomainSocketChannel)) {
                    throw new IOException("not a Unix domain socket channel: " + ctx.channel().getClass().getName());
                }
                cred = ((EpollDomainSocketChannel) ctx.channel()).peerCredentials();
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "closing Unix socket connection: cannot read SO_PEERCRED", e);
                ctx.close();
                return;
            }
            Attributes attrs = InternalProtocolNegotiationEvent.getAttributes(pne).toBuilder()
                    .set(PEER_UID, Integer.toUnsignedLong(cred.uid()))
                    .set(PEER_GID, cred.gids().length > 0 ? Integer.toUnsignedLong(cred.gids()[0]) : -1L)
                    .set(PEER_PID, cred.pid())
                    .build();
            ctx.pipeline().replace(this, null, next);
            ctx.fireUserEventTriggered(InternalProtocolNegotiationEvent.withAttributes(pne, attrs));
        }
    }
}
