package io.shuttle.m2n;

import io.shuttle.m2n.transport.RegisteredBuffer;
import io.shuttle.m2n.wire.MessageHeader;
import java.lang.foreign.MemorySegment;

/**
 * A received message: its header and its row data in a pooled registered buffer. Close it (or
 * the {@link ReceivedRound} holding it) to give the buffer back; reading after close is an error.
 */
public final class Message implements AutoCloseable {
    private final MessageHeader header;
    private final RegisteredBuffer payload;
    final long arrivedNanos;

    Message(MessageHeader header, RegisteredBuffer payload, long arrivedNanos) {
        this.header = header;
        this.payload = payload;
        this.arrivedNanos = arrivedNanos;
    }

    public MessageHeader header() {
        return header;
    }

    /** The sending node's id. */
    public int sender() {
        return header.sender();
    }

    /** The row data, exactly {@code header().payloadLength()} bytes, off-heap. */
    public MemorySegment payload() {
        return payload.segment();
    }

    @Override
    public void close() {
        payload.close();
    }
}
