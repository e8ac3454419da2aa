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

    /**
     * Whether the node may run {@link #progress()} (and the other calls above) from a thread that
     * waits for its traffic while the progress thread is blocked in {@link #block}, the calls
     * still one at a time: true where blocking touches no transport state (UCX: the worker's
     * event fd is armed first, then only {@code poll(2)} blocks); a NIO selector cannot be
     * selected from two threads, so TCP says no.
     */
    default boolean supportsCallerProgress() {
        return false;
    }

    /**
     * The first half of {@link #await} for transports that support caller progress: prepares to
     * block; false if events are already pending (progress again instead).
     */
    default boolean arm() {
        return true;
    }

    /**
     * The second half of {@link #await}, after {@link #arm} returned true: blocks without touching
     * transport state, so another thread may drive progress meanwhile.
     */
    default void block(long maxNanos) {
        await(maxNanos);
    }

    /** Ends a pending or future {@link #await}; safe from any thread. */
    void wakeup();

    /** Closes one link (pending sends on it complete with CLOSED). */
    void closeLink(Link link);

    @Override
    void close();
}
