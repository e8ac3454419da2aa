package io.shuttle.kernels.cuda;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.Backends;
import io.shuttle.kernels.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The --device factory: cpu, cuda (or its clear refusal), and bad names. */
class BackendsTest {

    @Test
    void cpuIsTheCpuBackend() {
        try (Backend b = Backends.create("cpu", 1)) {
            assertInstanceOf(CpuBackend.class, b);
        }
    }

    @Test
    void cudaOpensTheGpuOrSaysWhyNot() {
        GpuFixtures.useBuildTmpDir();
        if (CudaProbe.available()) {
            try (Backend b = Backends.create("cuda", 1)) {
                assertInstanceOf(CudaBackend.class, b);
                assertTrue(b.name().startsWith("cuda("), b.name());
            }
        } else {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.create("cuda", 1));
            assertEquals("--device cuda was asked for but no CUDA driver/GPU is available: " + CudaProbe.reason()
                    + "; use --device cpu", e.getMessage());
        }
    }

    @Test
    void unknownDevicesAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.create("tpu", 1));
        assertEquals("unknown device 'tpu': use cpu, cuda or cuda:N", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Backends.create("cuda:x", 1));
    }
}
