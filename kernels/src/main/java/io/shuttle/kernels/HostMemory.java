package io.shuttle.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Host memory for the CPU-side backends: every tensor gets its own {@link Arena#ofShared()}
 * (64-byte aligned, zeroed; from 16 MiB on mapped on transparent huge pages, {@link HugePages}), tracked by base address so {@link #release} can free exactly what
 * {@link #allocate} handed out and {@link #close} can free whatever is left.
 *
 * <p>One shared arena per tensor makes release cheap to reason about (no allocator), at the cost
 * of a thread handshake per close; tensors are expected to be allocated once at start-up, not
 * per step. Safe for concurrent use.
 */
public final class HostMemory implements AutoCloseable {

    private static final long ALIGNMENT = 64;
    /** Tensors from this size on are mapped on huge pages ({@link HugePages}). */
    static final long HUGE_PAGE_MIN_BYTES = 8 * HugePages.SIZE;

    private final String owner;
    private final ConcurrentHashMap<Long, Arena> arenas = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /** @param owner the backend's name, used in error messages */
    public HostMemory(String owner) {
        this.owner = owner;
    }

    public Tensor allocate(DType dtype, long... shape) {
        if (closed) {
            throw new IllegalStateException(owner + ": allocate after close");
        }
        long numel = 1;
        for (long s : shape) {
            if (s < 0) {
                throw new IllegalArgumentException(owner + ": allocate: negative dimension in shape "
                        + java.util.Arrays.toString(shape));
            }
            numel = Math.multiplyExact(numel, s);
        }
        Arena arena = Arena.ofShared();
        long bytes = Math.multiplyExact(numel, (long) dtype.byteSize());
        // Big tensors (the paged KV cache) are read in bulk every step: huge pages where the OS
        // has them. The last huge page's unused rest is at most 1/8 of such a tensor.
        HugePages.Mapping mapped = bytes >= HUGE_PAGE_MIN_BYTES ? HugePages.map(bytes, arena) : null;
        // At least one byte so that every live tensor has a distinct base address.
        MemorySegment segment = mapped != null ? mapped.segment() : arena.allocate(Math.max(1, bytes), ALIGNMENT);
        arenas.put(segment.address(), arena);
        return Tensor.of(segment, dtype, shape);
    }

    public void release(Tensor tensor) {
        Arena arena = arenas.remove(tensor.data().address());
        if (arena == null) {
            throw new IllegalArgumentException(owner + ": release of " + tensor
                    + " which this backend did not allocate (or which was already released)");
        }
        arena.close();
    }

    /** Number of tensors allocated and not yet released. */
    public int liveTensors() {
        return arenas.size();
    }

    @Override
    public void close() {
        closed = true;
        for (Long address : arenas.keySet()) {
            Arena arena = arenas.remove(address);
            if (arena != null) {
                arena.close();
            }
        }
    }
}
