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
