package io.shuttle.kernels;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class HostMemoryTest {

    @Test
    void allocatesZeroedAlignedTensorsAndReleasesEachOnce() {
        try (HostMemory memory = new HostMemory("test")) {
            Tensor a = memory.allocate(DType.BF16, 3, 5);
            Tensor b = memory.allocate(DType.F32, 0);
            assertEquals(0, a.data().address() % 64);
            assertEquals(30, a.byteSize());
            for (long i = 0; i < a.numel(); i++) {
                assertEquals(0f, a.getFloat(i));
            }
            assertEquals(2, memory.liveTensors());
            memory.release(a);
            assertFalse(a.data().scope().isAlive());
            assertThrows(IllegalArgumentException.class, () -> memory.release(a));
            memory.release(b);
            assertEquals(0, memory.liveTensors());
        }
    }

    /**
     * Tensors from {@link HostMemory#HUGE_PAGE_MIN_BYTES} on are mapped on huge-page boundaries
     * (where the OS lets us map at all): zeroed, writable to their last byte, and unmapped on release.
     */
    @Test
    void bigTensorsAreHugePageMappedZeroedAndReleased() {
        try (HostMemory memory = new HostMemory("test")) {
            long floats = HostMemory.HUGE_PAGE_MIN_BYTES / 4 + 3; // not a whole number of huge pages
            Tensor big = memory.allocate(DType.F32, floats);
            Tensor small = memory.allocate(DType.F32, 1024);
            if (HugePages.available()) {
                assertEquals(0, big.data().address() % HugePages.SIZE, "starts on a huge page");
            }
            assertEquals(0, big.data().address() % 64);
            assertEquals(4 * floats, big.byteSize());
            for (long i = 0; i < floats; i += 4099) {
                assertEquals(0f, big.getFloat(i), "zeroed");
            }
            big.data().fill((byte) 7);
            assertEquals(7, big.data().get(java.lang.foreign.ValueLayout.JAVA_BYTE, big.byteSize() - 1));
            assertEquals(0f, small.getFloat(0), "another tensor is untouched");
            memory.release(big);
            assertFalse(big.data().scope().isAlive());
            assertThrows(IllegalStateException.class, () -> big.getFloat(0));
            assertThrows(IllegalArgumentException.class, () -> memory.release(big));
            assertEquals(1, memory.liveTensors());
        }
    }

    @Test
    void closeFreesEverythingAndRefusesNewAllocations() {
        HostMemory memory = new HostMemory("test");
        Tensor a = memory.allocate(DType.F32, 4);
        memory.close();
        assertFalse(a.data().scope().isAlive());
        assertEquals(0, memory.liveTensors());
        assertThrows(IllegalStateException.class, () -> memory.allocate(DType.F32, 1));
    }
}
