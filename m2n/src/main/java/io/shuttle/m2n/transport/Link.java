package io.shuttle.m2n.transport;

import java.net.InetSocketAddress;

/**
 * An authenticated connection to one peer. Data flows one way: an outbound link (we connected)
 * carries our sends, an inbound link (the peer connected) carries the peer's sends to us.
 *
 * @param id         unique within this transport's lifetime
 * @param peerNodeId the node id the peer presented in the handshake
 * @param remote     the socket address of the peer's end of the control connection
 * @param peerListen the address the peer listens on (for outbound links, the address we dialled)
 * @param outbound   true when we opened the connection
 */
public record Link(int id, int peerNodeId, InetSocketAddress remote, InetSocketAddress peerListen, boolean outbound) {

    /** For logs and errors: "node 3 at 127.0.0.1:4711". */
    public String describe() {
        return "node " + peerNodeId + " at " + peerListen.getHostString() + ":" + peerListen.getPort();
    }
}
