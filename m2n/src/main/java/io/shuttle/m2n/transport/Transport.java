package io.shuttle.m2n.transport;

import io.shuttle.m2n.wire.MessageHeader;
import java.net.InetSocketAddress;

/**
 * A way to move m2n messages between nodes: the ops table under the node, as UCT's is under
 * UCP. Apart from {@link #wakeup()} and {@link #pool()}, every method is called by the node's
 * single progress thread; events are delivered from inside {@link #progress()}.
 */
public interface Transport extends AutoCloseable {
    /** "ucx" or "tcp", plus what was chosen inside (for the start-up log). */
    String name();

    /** The address peers dial; known once the constructor returned. */
    InetSocketAddress localAddress();

    /** Registered memory for payloads; safe from any thread. */
    BufferPool pool();

    /** Starts accepting peers; events go to {@code events}. */
    void start(TransportEvents events);

    /** Opens an outbound link; the outcome arrives as onConnected or onConnectFailed. */
    void connect(InetSocketAddress address);

    /**
     * Sends a header and {@code payloadLength} bytes at native address {@code payloadAddress}
     * over an outbound link. The memory must stay valid and unchanged until {@code done} runs.
     */
    void send(Link link, MessageHeader header, long payloadAddress, long payloadLength, SendCompletion done);

    /** Moves whatever can move without blocking; true if anything happened. */
    boolean progress();

    /** Blocks until something may have happened, {@link #wakeup()} is called, or the time passes. */
    void await(long maxNanos);

    /** Ends a pending or future {@link #await}; safe from any thread. */
    void wakeup();

    /** Closes one link (pending sends on it complete with CLOSED). */
    void closeLink(Link link);

    @Override
    void close();
}
