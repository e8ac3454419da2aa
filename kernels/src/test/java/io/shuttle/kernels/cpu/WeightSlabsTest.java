package io.shuttle.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WeightSlabsTest {

    @Test
    void allocationsAreZeroedAlignedAndDisjoint() {
        try (Arena arena = Arena.ofShared()) {
            WeightSlabs slabs = new WeightSlabs(arena);
            long[] sizes = {100, 4096, 1, WeightSlabs.SLAB - 10, 3 * WeightSlabs.SLAB + 7, 64};
            MemorySegment[] got = new MemorySegment[sizes.length];
            for (int i = 0; i < sizes.length; i++) {
                got[i] = slabs.allocate(sizes[i]);
                assertEquals(sizes[i], got[i].byteSize());
                assertEquals(0, got[i].address() % 64, "64-byte aligned");
                for (long off = 0; off < sizes[i]; off += 4093) {
                    assertEquals(0, got[i].get(ValueLayout.JAVA_BYTE, off), "zeroed");
                }
                got[i].fill((byte) (i + 1));
            }
            for (int i = 0; i < sizes.length; i++) {
                assertEquals(i + 1, got[i].get(ValueLayout.JAVA_BYTE, 0));
                assertEquals(i + 1, got[i].get(ValueLayout.JAVA_BYTE, sizes[i] - 1), "no later allocation overlaps this one");
            }
            // Whether the kernel takes the advice depends on the machine (THP compiled in, not
            // "never"); what was advised is whole, huge-page-aligned slabs.
            assertEquals(0, slabs.hugePageBytes() % WeightSlabs.HUGE_PAGE);
        }
    }

    @Test
    void closingTheArenaEndsEveryAllocation() {
        Arena arena = Arena.ofShared();
        WeightSlabs slabs = new WeightSlabs(arena);
        MemorySegment s = slabs.allocate(1 << 20);
        s.set(ValueLayout.JAVA_INT, 0, 42);
        arena.close();
        assertThrows(IllegalStateException.class, () -> s.get(ValueLayout.JAVA_INT, 0));
    }
}
