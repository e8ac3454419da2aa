package io.shuttle.kernels;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Anonymous memory advised to use transparent huge pages, for the large host buffers that are
 * streamed again and again: packed weights and the paged KV cache. Each 4 KiB page is a TLB
 * entry, and decode reads its weights and every sequence's cache blocks on every step; with
 * 2 MiB pages a page walk covers 512 times as much. Linux in the common {@code madvise} THP mode
 * gives huge pages only to memory that asks for them before it is first touched, which
 * {@link Arena#allocate} (it zeroes) does not allow; so the memory is mapped anonymous (already
 * zero), advised {@code MADV_HUGEPAGE}, and only then touched by its owner.
 *
 * <p>On a 1-core-per-process VM (docs/BENCHMARKS.md) reading 16 KiB blocks at random, the paged KV
 * cache's pattern, ran at 12.8 GB/s from huge pages against 7.8 GB/s from 4 KiB pages.
 *
 * <p>Where it cannot work (not Linux, no {@code mmap} in the default lookup, a refused mapping,
 * {@code -Dshuttle.noHugePages=true}) {@link #map} returns null and callers allocate as usual.
 */
public final class HugePages {
    private static final Logger LOG = System.getLogger(HugePages.class.getName());

    /** The huge page size mappings are aligned for (x86-64 and most arm64 kernels). */
    public static final long SIZE = 2L << 20;

    private static final int PROT_READ = 1, PROT_WRITE = 2;
    private static final int MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;
    private static final int MADV_HUGEPAGE = 14;
    private static final MethodHandle MMAP;
    private static final MethodHandle MUNMAP;
    private static final MethodHandle MADVISE;
    /** Mapped lengths by base address: the arena's cleanup sees only a zero-length segment. */
    private static final ConcurrentHashMap<Long, Long> LENGTHS = new ConcurrentHashMap<>();

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
                LOG.log(Level.DEBUG, "no mmap/madvise for huge pages: " + e);
                mmap = munmap = madvise = null;
            }
        }
        MMAP = mmap;
        MUNMAP = munmap;
        MADVISE = madvise;
    }

    private HugePages() {
    }

    /**
     * A mapping: {@code segment} starts on a huge-page boundary; {@code advised} says whether
     * the kernel accepted {@code MADV_HUGEPAGE} (whether it then finds free huge pages is up to
     * it: {@code AnonHugePages} in {@code /proc/self/smaps} tells).
     */
    public record Mapping(MemorySegment segment, boolean advised) {
    }

    /** Whether {@link #map} can work here at all. */
    public static boolean available() {
        return MMAP != null;
    }

    /**
     * {@code bytes} of zeroed memory starting on a huge-page boundary, owned by {@code arena}:
     * unmapped when it closes, and no access after that. Null where mapping is not possible or
     * was refused; the caller then allocates another way.
     */
    public static Mapping map(long bytes, Arena arena) {
        if (MMAP == null || bytes <= 0) {
            return null;
        }
        try {
            // Over-map by one huge page so the segment can start on a huge-page boundary; the
            // untouched rest costs address space, not memory.
            long size = (bytes + SIZE - 1) & -SIZE;
            long length = size + SIZE;
            MemorySegment base = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, length,
                    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
            if (base.address() == -1L || base.address() == 0L) {
                return null;
            }
            LENGTHS.put(base.address(), length);
            MemorySegment region = base.reinterpret(length, arena, HugePages::unmap);
            long skip = (SIZE - (base.address() & (SIZE - 1))) & (SIZE - 1);
            MemorySegment aligned = region.asSlice(skip, size);
            int rc = (int) MADVISE.invokeExact(aligned, size, MADV_HUGEPAGE);
            return new Mapping(aligned.asSlice(0, bytes), rc == 0);
        } catch (Throwable e) {
            LOG.log(Level.DEBUG, "mmap of " + bytes + " bytes failed, using 4 KiB pages: " + e);
            return null;
        }
    }

    private static void unmap(MemorySegment base) {
        Long length = LENGTHS.remove(base.address());
        if (length == null) {
            return;
        }
        try {
            int rc = (int) MUNMAP.invokeExact(base, (long) length);
            if (rc != 0) {
                LOG.log(Level.WARNING, "munmap of " + length + " bytes failed (rc " + rc + ")");
            }
        } catch (Throwable e) {
            LOG.log(Level.WARNING, "munmap of " + length + " bytes failed: " + e);
        }
    }
}
