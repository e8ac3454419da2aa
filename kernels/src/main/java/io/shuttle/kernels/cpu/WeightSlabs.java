package io.shuttle.kernels.cpu;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Memory for the packed weights, carved from large slabs backed by transparent huge pages where
 * the OS allows it. A decode step streams every weight it uses once: with 4 KiB pages that is a
 * TLB miss (a page walk) every 4 KiB of every matrix, with 2 MiB pages one per 2 MiB. Linux in
 * the common {@code madvise} THP mode gives huge pages only to memory that asks for them before
 * it is first touched, which {@link Arena#allocate} (it zeroes) does not allow; so slabs are
 * mapped anonymous (already zero), advised {@code MADV_HUGEPAGE}, then filled.
 *
 * <p>Anywhere that fails (not Linux, no {@code mmap} in the default lookup, a refused mapping)
 * the slabs come from the arena like any other memory: the same bytes, only 4 KiB pages. Mapped
 * slabs belong to the arena too: closing it unmaps them, and no segment is usable after that.
 * Not thread-safe; the backend allocates under its own lock.
 */
final class WeightSlabs {
    private static final Logger LOG = System.getLogger(WeightSlabs.class.getName());

    /** The huge page size this is aligned for (x86-64 and most arm64 kernels). */
    static final long HUGE_PAGE = 2L << 20;
    /** Slab size: large enough that the rounding of the last one is small next to a model. */
    static final long SLAB = 32L << 20;
    private static final long ALIGNMENT = 64;

    private static final int PROT_READ = 1, PROT_WRITE = 2;
    private static final int MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;
    private static final int MADV_HUGEPAGE = 14;
    private static final MethodHandle MMAP;
    private static final MethodHandle MUNMAP;
    private static final MethodHandle MADVISE;

    static {
        MethodHandle mmap = null, munmap = null, madvise = null;
        if (System.getProperty("os.name", "").startsWith("Linux") && !Boolean.getBoolean("shuttle.noHugePages")) {
            try {
                Linker linker = Linker.nativeLinker();
                var lookup = linker.defaultLookup();
                mmap = linker.downcallHandle(lookup.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
                munmap = linker.downcallHandle(lookup.find("munmap").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
                madvise = linker.downcallHandle(lookup.find("madvise").orElseThrow(), FunctionDescriptor.of(
                        ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
            } catch (RuntimeException | LinkageError e) {
                LOG.log(Level.DEBUG, "no mmap/madvise for huge-page weights: " + e);
                mmap = munmap = madvise = null;
            }
        }
        MMAP = mmap;
        MUNMAP = munmap;
        MADVISE = madvise;
    }

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
        if (MMAP != null) {
            try {
                // Over-map by one huge page so the slab can start on a huge-page boundary.
                long length = size + HUGE_PAGE;
                MemorySegment base = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, length,
                        PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
                if (base.address() != -1L && base.address() != 0L) {
                    // Tied to the arena: unmapped when it closes, and no access after that.
                    MemorySegment region = base.reinterpret(length, arena, WeightSlabs::unmapCleanup);
                    LENGTHS.put(base.address(), length);
                    long skip = (HUGE_PAGE - (base.address() & (HUGE_PAGE - 1))) & (HUGE_PAGE - 1);
                    MemorySegment aligned = region.asSlice(skip, size);
                    int rc = (int) MADVISE.invokeExact(aligned, size, MADV_HUGEPAGE);
                    if (rc == 0) {
                        hugeBytes += size;
                    }
                    return aligned;
                }
            } catch (Throwable e) {
                LOG.log(Level.DEBUG, "mmap of a weight slab failed, using 4 KiB pages: " + e);
            }
        }
        return arena.allocate(size, ALIGNMENT);
    }

    /** Mapped lengths by base address: the arena's cleanup sees only a zero-length segment. */
    private static final java.util.concurrent.ConcurrentHashMap<Long, Long> LENGTHS = new java.util.concurrent.ConcurrentHashMap<>();

    private static void unmapCleanup(MemorySegment base) {
        Long length = LENGTHS.remove(base.address());
        if (length == null) {
            return;
        }
        try {
            int rc = (int) MUNMAP.invokeExact(base, (long) length);
            if (rc != 0) {
                LOG.log(Level.WARNING, "munmap of a weight slab failed (rc " + rc + ")");
            }
        } catch (Throwable e) {
            LOG.log(Level.WARNING, "munmap of a weight slab failed: " + e);
        }
    }
}
