package io.shuttle.m2n.transport;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A lease on off-heap memory from a {@link BufferPool}, registered with the transport (a UCX
 * memory handle for {@code ucx}). Closing it returns the memory to the pool; it is closed once,
 * by whoever holds it last (the transport for send scratch, the application for received data).
 */
public final class RegisteredBuffer implements AutoCloseable {
    private final BufferPool pool;
    private final BufferPool.Slab slab;
    private final MemorySegment segment;
    private final AtomicBoolean closed = new AtomicBoolean();

    RegisteredBuffer(BufferPool pool, BufferPool.Slab slab, long length) {
        this.pool = pool;
        this.slab = slab;
        this.segment = slab == null ? MemorySegment.NULL : slab.segment().asSlice(0, length);
    }

    private RegisteredBuffer(BufferPool pool, BufferPool.Slab slab, MemorySegment segment) {
        this.pool = pool;
        this.slab = slab;
        this.segment = segment;
    }

    /**
     * Hands this lease over to a view of {@code length} bytes at {@code offset}: closing the view
     * returns the memory, and this buffer must not be used after the call (its close is a no-op).
     * Used when a payload arrives in the same buffer as its header.
     */
    public RegisteredBuffer narrow(long offset, long length) {
        MemorySegment view = segment.asSlice(offset, length);
        if (!closed.compareAndSet(false, true)) {
            throw new IllegalStateException("buffer is already closed");
        }
        return new RegisteredBuffer(pool, slab, view);
    }

    /** The usable bytes: exactly the length asked for. */
    public MemorySegment segment() {
        return segment;
    }

    /** Native address of the first byte (what a transport hands to UCX or to a DMA engine). */
    public long address() {
        return segment.address();
    }

    public long length() {
        return segment.byteSize();
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true) && slab != null) {
            pool.release(slab);
        }
    }
}
