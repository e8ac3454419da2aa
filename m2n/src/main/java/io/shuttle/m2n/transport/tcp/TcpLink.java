package io.shuttle.m2n.transport.tcp;

import io.shuttle.m2n.M2nStatus;
import io.shuttle.m2n.transport.BufferPool;
import io.shuttle.m2n.transport.Link;
import io.shuttle.m2n.transport.RegisteredBuffer;
import io.shuttle.m2n.transport.SendCompletion;
import io.shuttle.m2n.transport.TransportEvents;
import io.shuttle.m2n.wire.HeaderCodec;
import io.shuttle.m2n.wire.MessageHeader;
import io.shuttle.m2n.wire.WireFormatException;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;

/**
 * One TCP connection after the handshake: a queue of outgoing messages written with gathering
 * writes straight from off-heap memory, and a reader that parses headers and reads each payload
 * straight into a pooled buffer. Progress-thread only.
 */
final class TcpLink {
    /** "M2NB": a heartbeat, sent on an idle link in place of a message. */
    static final int HEARTBEAT_MAGIC = 0x424E324D;

    private record PendingWrite(ByteBuffer[] buffers, RegisteredBuffer scratch, SendCompletion done) {
    }

    private enum ReadState { MAGIC, FIXED, REST, PAYLOAD_BUFFER, PAYLOAD }

    final Link link;
    final SocketChannel channel;
    final SelectionKey key;
    private final BufferPool pool;
    private final ArrayDeque<PendingWrite> out = new ArrayDeque<>();
    long lastReceived;
    long lastSent;

    private ByteBuffer head = ByteBuffer.allocateDirect(4096).order(ByteOrder.LITTLE_ENDIAN);
    private ReadState state = ReadState.MAGIC;
    private MessageHeader header;
    private RegisteredBuffer payload;
    private ByteBuffer payloadView;

    TcpLink(Link link, SocketChannel channel, SelectionKey key, BufferPool pool, long now) {
        this.link = link;
        this.channel = channel;
        this.key = key;
        this.pool = pool;
        this.lastReceived = now;
        this.lastSent = now;
        head.limit(4);
    }

    void enqueue(RegisteredBuffer headerBytes, long payloadAddress, long payloadLength, SendCompletion done) {
        ByteBuffer h = headerBytes.segment().asByteBuffer();
        ByteBuffer[] buffers = payloadLength == 0
                ? new ByteBuffer[] {h}
                : new ByteBuffer[] {h, MemorySegment.ofAddress(payloadAddress).reinterpret(payloadLength).asByteBuffer()};
        out.add(new PendingWrite(buffers, headerBytes, done));
    }

    void enqueueHeartbeat() {
        ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, HEARTBEAT_MAGIC);
        out.add(new PendingWrite(new ByteBuffer[] {b}, null, null));
    }

    boolean hasPendingWrites() {
        return !out.isEmpty();
    }

    /** Writes as much as the socket takes; returns true if anything was written. */
    boolean flush(long now) throws IOException {
        boolean wrote = false;
        while (!out.isEmpty()) {
            PendingWrite w = out.peek();
            long n = channel.write(w.buffers());
            if (n > 0) {
                wrote = true;
                lastSent = now;
            }
            if (w.buffers()[w.buffers().length - 1].hasRemaining()) {
                key.interestOps(key.interestOps() | SelectionKey.OP_WRITE);
                return wrote;
            }
            out.poll();
            if (w.scratch() != null) {
                w.scratch().close();
            }
            if (w.done() != null) {
                w.done().complete(M2nStatus.OK, null);
            }
        }
        key.interestOps(key.interestOps() & ~SelectionKey.OP_WRITE);
        return wrote;
    }

    /**
     * Reads until the socket is drained, delivering every complete message. Returns true if
     * anything was read. Throws on EOF or a malformed stream.
     */
    boolean read(TransportEvents events, long now) throws IOException {
        boolean any = false;
        while (true) {
            switch (state) {
                case MAGIC, FIXED, REST -> {
                    int n = channel.read(head);
                    if (n < 0) {
                        throw new EOFException("connection closed by " + link.describe());
                    }
                    if (n == 0) {
                        return any;
                    }
                    any = true;
                    lastReceived = now;
                    if (!head.hasRemaining()) {
                        advanceHead();
                    }
                }
                case PAYLOAD_BUFFER -> {
                    payload = pool.allocate(header.payloadLength());
                    if (payload == null) {
                        // Pool exhausted: leave the bytes in the socket (TCP backpressure) and retry later.
                        return any;
                    }
                    payloadView = payload.segment().asByteBuffer();
                    state = ReadState.PAYLOAD;
                    if (!payloadView.hasRemaining()) {
                        deliver(events);
                    }
                }
                case PAYLOAD -> {
                    int n = channel.read(payloadView);
                    if (n < 0) {
                        throw new EOFException("connection closed by " + link.describe() + " in the middle of a message");
                    }
                    if (n == 0) {
                        return any;
                    }
                    any = true;
                    lastReceived = now;
                    if (!payloadView.hasRemaining()) {
                        deliver(events);
                    }
                }
            }
        }
    }

    /** True while a message waits for a pool buffer (the node retries when buffers come back). */
    boolean waitingForBuffer() {
        return state == ReadState.PAYLOAD_BUFFER;
    }

    private void advanceHead() {
        switch (state) {
            case MAGIC -> {
                int magic = head.getInt(0);
                if (magic == HEARTBEAT_MAGIC) {
                    head.clear().limit(4);
                } else if (HeaderCodec.isMessageMagic(magic)) {
                    head.limit(HeaderCodec.FIXED_LENGTH);
                    state = ReadState.FIXED;
                } else {
                    throw new WireFormatException(String.format("unexpected word 0x%08x from %s", magic, link.describe()));
                }
            }
            case FIXED -> {
                int length = HeaderCodec.headerLength(headSegment().asSlice(0, HeaderCodec.FIXED_LENGTH));
                if (length > head.capacity()) {
                    ByteBuffer bigger = ByteBuffer.allocateDirect(length).order(ByteOrder.LITTLE_ENDIAN);
                    head.flip();
                    bigger.put(head);
                    head = bigger;
                }
                head.limit(length);
                state = ReadState.REST;
                if (!head.hasRemaining()) {
                    advanceHead();
                }
            }
            case REST -> {
                header = HeaderCodec.decode(headSegment().asSlice(0, head.limit()));
                head.clear().limit(4);
                state = ReadState.PAYLOAD_BUFFER;
            }
            default -> throw new IllegalStateException(state.name());
        }
    }

    /** The whole header buffer, independent of its position and limit. */
    private MemorySegment headSegment() {
        return MemorySegment.ofBuffer(head.duplicate().clear());
    }

    private void deliver(TransportEvents events) {
        MessageHeader h = header;
        RegisteredBuffer p = payload;
        header = null;
        payload = null;
        payloadView = null;
        state = ReadState.MAGIC;
        events.onMessage(link, h, p);
    }

    /** Fails queued sends and frees a half-read payload. */
    void abort(M2nStatus status, String detail) {
        for (PendingWrite w; (w = out.poll()) != null; ) {
            if (w.scratch() != null) {
                w.scratch().close();
            }
            if (w.done() != null) {
                w.done().complete(status, detail);
            }
        }
        if (payload != null) {
            payload.close();
            payload = null;
        }
    }
}
