package io.shuttle.kernels.cuda;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;
import io.shuttle.kernels.scalar.ScalarBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;

import static io.shuttle.kernels.Fixtures.ints;
import static io.shuttle.kernels.cuda.GpuFixtures.upload;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad calls fail with clear messages instead of faulting the GPU: out-of-range indices (checked
 * by the kernels, thrown by the backend), host tensors passed where device memory is needed,
 * host access to a device tensor, bad shapes (the shared Checks messages). Skips without a GPU.
 */
class CudaErrorsTest {
    private static ScalarBackend host;
    private static CudaBackend gpu;

    @BeforeAll
    static void open() {
        gpu = GpuFixtures.openCheckedOrNull();
        host = new ScalarBackend();
    }

    @BeforeEach
    void requireGpu() {
        GpuFixtures.assumeGpu(gpu);
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
        if (host != null) {
            host.close();
        }
    }

    @Test
    void outOfRangeTokenIdIsReportedByTheKernel() {
        Tensor table = gpu.allocate(DType.F32, 10, 8);
        Tensor ids = upload(gpu, ints(host, new int[] {1, 10}, 2));
        Tensor out = gpu.allocate(DType.F32, 2, 8);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> gpu.embedding(table, ids, out));
        assertTrue(e.getMessage().contains("embedding: ids[1] = 10 is outside the table's rows (0..9)"),
                e.getMessage());
        // The error word is cleared: the next good call succeeds.
        gpu.embedding(table, upload(gpu, ints(host, new int[] {1, 9}, 2)), out);
    }

    @Test
    void blockTableOutsideTheCacheIsReported() {
        Tensor q = gpu.allocate(DType.F32, 1, 32);
        Tensor kc = gpu.allocate(DType.F32, 16, 16);
        Tensor vc = gpu.allocate(DType.F32, 16, 16);
        PagedAttentionMeta meta = new PagedAttentionMeta(upload(gpu, ints(host, new int[] {0, 7}, 1, 2)), 8,
                upload(gpu, ints(host, new int[] {0}, 1)), upload(gpu, ints(host, new int[] {12}, 1)));
        Tensor out = gpu.allocate(DType.F32, 1, 32);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> gpu.pagedAttention(q, kc, vc, meta, 2, 1, 16, out));
        assertTrue(e.getMessage().contains("holds block 7, outside the cache's blocks (0..1)"), e.getMessage());
    }

    @Test
    void hostTensorsAreRejectedBeforeAnyLaunch() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor hostX = Tensor.allocate(arena, DType.F32, 2, 4);
            Tensor w = gpu.allocate(DType.F32, 3, 4);
            Tensor out = gpu.allocate(DType.F32, 2, 3);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> gpu.matmul(hostX, w, out));
            assertTrue(e.getMessage().startsWith("matmul: x Tensor[2, 4] F32 is not in cuda("), e.getMessage());
        }
    }

    @Test
    void deviceTensorsRefuseHostAccess() {
        Tensor t = gpu.allocate(DType.F32, 4);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.getFloat(0));
        assertTrue(e.getMessage().contains("lives in device memory"), e.getMessage());
    }

    @Test
    void shapeErrorsUseTheSharedMessages() {
        Tensor x = gpu.allocate(DType.F32, 2, 4);
        Tensor w = gpu.allocate(DType.F32, 3, 5);
        Tensor out = gpu.allocate(DType.F32, 2, 3);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> gpu.matmul(x, w, out));
        assertTrue(e.getMessage().startsWith("matmul: w has 5 columns but x has 4"), e.getMessage());
    }

    @Test
    void eventsCompleteAndDevicePointersAreExposed() throws Exception {
        Tensor t = gpu.allocate(DType.F32, 1024);
        assertTrue(gpu.devicePointer(t) != 0);
        gpu.zero(t);
        try (CudaEvent event = gpu.recordEvent()) {
            event.await(java.time.Duration.ofSeconds(10));
            assertTrue(event.isComplete());
            gpu.waitFor(event);
        }
        gpu.synchronize();
    }
}
