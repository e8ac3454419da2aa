package io.shuttle.kernels.cpu;

import io.shuttle.kernels.HugePages;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Memory for the packed weights, carved from large slabs backed by transparent huge pages where
 * the OS allows it ({@link HugePages}): a decode step streams every weight it uses once, and with
 * 4 KiB pages that is a TLB miss (a page walk) every 4 KiB of every matrix.
 *
 * <p>Anywhere huge pages cannot be mapped the slabs come from the arena like any other memory:
 * the same bytes, only 4 KiB pages. Mapped slabs belong to the arena too: closing it unmaps them,
 * and no segment is usable after that. Not thread-safe; the backend allocates under its own lock.
 */
final class WeightSlabs {
    /** The huge page size slabs are aligned for. */
    static final long HUGE_PAGE = HugePages.SIZE;
    /** Slab size: large enough that the rounding of the last one is small next to a model. */
    static final long SLAB = 32L << 20;
    private static final long ALIGNMENT = 64;

    private final Arena arena;
    private MemorySegment slab = MemorySegment.NULL;
    private long used;
    private long hugeBytes;

    /** @param arena owns the fallback memory (and outlives this) */
    WeightSlabs(Arena arena) {
        this.arena = arena;
    }

    /** {@code bytes} of zeroed memory, 64-byte aligned, valid until the arena closes. */
    MemorySegment allocate(long bytes) {
        long size = Math.max(1, bytes);
        long at = (used + ALIGNMENT - 1) & -ALIGNMENT;
        if (slab.byteSize() - at < size) {
            slab = newSlab(Math.max(SLAB, (size + HUGE_PAGE - 1) & -HUGE_PAGE));
            at = 0;
        }
        used = at + size;
        return slab.asSlice(at, size);
    }

    /** Bytes in slabs that were advised to use huge pages (0 where the OS offered no way). */
    long hugePageBytes() {
        return hugeBytes;
    }

    private MemorySegment newSlab(long size) {
        HugePages.Mapping mapped = HugePages.map(size, arena);
        if (mapped == null) {
            return arena.allocate(size, ALIGNMENT);
        }
        if (mapped.advised()) {
            hugeBytes += size;
        }
        return mapped.segment();
    }
}
