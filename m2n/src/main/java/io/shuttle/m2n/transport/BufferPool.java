package io.shuttle.m2n.transport;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Off-heap buffers in power-of-two size classes, each registered once with the transport when
 * first allocated and reused afterwards. Thread-safe without locks: the progress thread takes
 * buffers for incoming messages while application threads return them.
 *
 * <p>The pool is bounded: {@link #allocate} returns {@code null} when a new slab would exceed
 * {@code maxBytes}; the caller treats that as backpressure ({@code NO_RESOURCE}) and retries
 * once buffers come back.
 */
public final class BufferPool implements AutoCloseable {
    /** Registers memory with the transport; the returned handle is passed back to deregister. */
    public interface Registrar {
        Object register(MemorySegment segment);

        void deregister(Object handle);

        Registrar NONE = new Registrar() {
            @Override
            public Object register(MemorySegment segment) {
                return null;
            }

            @Override
            public void deregister(Object handle) {
            }
        };
    }

    record Slab(int sizeClass, Arena arena, MemorySegment segment, Object registration) {
    }

    private static final int MIN_CLASS = 12; // 4 KiB
    private static final int MAX_CLASS = 40; // 1 TiB, far above any message

    private final long maxBytes;
    private final Registrar registrar;
    @SuppressWarnings({"unchecked", "rawtypes"})
    private final ConcurrentLinkedQueue<Slab>[] free = new ConcurrentLinkedQueue[MAX_CLASS + 1];
    private final AtomicLong reservedBytes = new AtomicLong();
    /** Every slab alive, so close() can drop all registrations before the transport goes away. */
    private final java.util.Set<Slab> live = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean closed;
    private volatile Runnable onRelease = () -> { };

    public BufferPool(long maxBytes, Registrar registrar) {
        if (maxBytes <= 0) {
            throw new IllegalArgumentException("pool size must be positive, got " + maxBytes);
        }
        this.maxBytes = maxBytes;
        this.registrar = registrar;
        for (int i = 0; i < free.length; i++) {
            free[i] = new ConcurrentLinkedQueue<>();
        }
    }

    /** Called after every release, e.g. to wake a progress thread waiting for a buffer. */
    public void onRelease(Runnable hook) {
        this.onRelease = hook;
    }

    /**
     * A buffer of exactly {@code length} usable bytes, or {@code null} when the pool is at its
     * limit. A zero length gives an empty buffer that holds no memory.
     */
    public RegisteredBuffer allocate(long length) {
        return allocate(length, false);
    }

    /** Like {@link #allocate} but ignores the limit: for small control bytes that cannot wait. */
    public RegisteredBuffer allocateOverBudget(long length) {
        return allocate(length, true);
    }

    private RegisteredBuffer allocate(long length, boolean overBudget) {
        if (length < 0) {
            throw new IllegalArgumentException("negative buffer length " + length);
        }
        if (closed) {
            throw new IllegalStateException("buffer pool is closed");
        }
        if (length == 0) {
            return new RegisteredBuffer(this, null, 0);
        }
        int sizeClass = Math.max(MIN_CLASS, 64 - Long.numberOfLeadingZeros(length - 1));
        if (sizeClass > MAX_CLASS) {
            throw new IllegalArgumentException("buffer of " + length + " bytes is larger than any size class");
        }
        Slab slab = free[sizeClass].poll();
        if (slab == null) {
            long size = 1L << sizeClass;
            if (reservedBytes.addAndGet(size) > maxBytes && !overBudget) {
                reservedBytes.addAndGet(-size);
                return null;
            }
            Arena arena = Arena.ofShared();
            MemorySegment segment = arena.allocate(size, 4096);
            slab = new Slab(sizeClass, arena, segment, registrar.register(segment));
            live.add(slab);
        }
        return new RegisteredBuffer(this, slab, length);
    }

    /** Bytes held by the pool, in use or free. */
    public long reservedBytes() {
        return reservedBytes.get();
    }

    public long maxBytes() {
        return maxBytes;
    }

    void release(Slab slab) {
        free[slab.sizeClass()].offer(slab);
        if (closed) {
            // close() may have drained the free lists before this slab came back; free it here.
            for (Slab s; (s = free[slab.sizeClass()].poll()) != null; ) {
                destroy(s);
            }
        }
        onRelease.run();
    }

    /**
     * Drops every registration (the transport's context must not outlive them) and frees the
     * free slabs. Buffers still held stay readable; their memory is freed when they are closed.
     */
    @Override
    public void close() {
        closed = true;
        for (Slab s : live) {
            registrar.deregister(s.registration());
        }
        for (ConcurrentLinkedQueue<Slab> q : free) {
            for (Slab s; (s = q.poll()) != null; ) {
                destroy(s);
            }
        }
    }

    private void destroy(Slab slab) {
        if (live.remove(slab)) {
            slab.arena().close();
            reservedBytes.addAndGet(-(1L << slab.sizeClass()));
        }
    }
}
