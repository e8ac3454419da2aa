package io.shuttle.m2n.transport;

import io.shuttle.m2n.M2nStatus;
import io.shuttle.m2n.wire.MessageHeader;
import java.net.InetSocketAddress;

/**
 * What a transport reports to the node. Every method runs on the progress thread, from inside
 * {@link Transport#progress()}, and must not block.
 */
public interface TransportEvents {
    /** An outbound connection to {@code address} passed the handshake. */
    void onConnected(InetSocketAddress address, Link link);

    /** An outbound connection to {@code address} could not be made or was refused. */
    void onConnectFailed(InetSocketAddress address, M2nStatus status, String detail);

    /** A peer connected to us and passed the handshake. */
    void onInboundLink(Link link);

    /** A link was lost; every send pending on it has already been completed with an error. */
    void onLinkDown(Link link, M2nStatus status, String detail);

    /** A whole message arrived; ownership of {@code payload} passes to the callee. */
    void onMessage(Link link, MessageHeader header, RegisteredBuffer payload);
}
