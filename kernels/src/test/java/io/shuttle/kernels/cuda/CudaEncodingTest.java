package io.shuttle.kernels.cuda;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The host-side encodings the kernels rely on, checked without a GPU: C struct layout (field
 * offsets nvcc uses), the grouped-GEMM tile schedule, and error-word messages.
 */
class CudaEncodingTest {

    @Test
    void attentionArgsFollowCLayout() {
        byte[] b = CudaAttention.encode(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0.5f, 16);
        ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(112, b.length);
        for (int i = 0; i < 8; i++) {
            assertEquals(i + 1, buf.getLong(i * 8), "pointer/long field " + i);
        }
        for (int i = 0; i < 6; i++) {
            assertEquals(9 + i, buf.getInt(64 + i * 4), "int field " + i);
        }
        assertEquals(15, buf.getLong(88), "numCacheBlocks at offset 88");
        assertEquals(0.5f, buf.getFloat(96), "scale at offset 96");
        assertEquals(16, buf.getLong(104), "err pointer aligned to offset 104");
    }

    @Test
    void groupedGemmSchedulesTilesAcrossGroupsAndSkipsEmptyOnes() {
        GroupedGemm g = new GroupedGemm(4096)
                .add(new GroupedGemm.Group(100, 200, 0, 300, 65, 14336, 0))
                .add(new GroupedGemm.Group(101, 201, 0, 301, 0, 14336, 65))
                .add(new GroupedGemm.Group(102, 202, 0, 302, 3, 14336, 65));
        assertEquals(14336 / 64, g.gridX());
        assertEquals(2 + 1, g.gridY(), "65 rows = 2 m-tiles, 3 rows = 1, the empty group none");
        ByteBuffer buf = ByteBuffer.wrap(g.encode(9, 8, 7, 6, 5)).order(ByteOrder.LITTLE_ENDIAN);
        int arrays = GroupedGemm.MAX_GROUPS * 8;
        assertEquals(100, buf.getLong(0));
        assertEquals(102, buf.getLong(8), "the empty group is dropped");
        assertEquals(202, buf.getLong(arrays + 8));
        assertEquals(3, buf.getLong(4 * arrays + 8), "rows of the second kept group");
        assertEquals(65, buf.getLong(6 * arrays + 8), "rowStart of the second kept group");
        int tileStart = 7 * arrays;
        assertEquals(0, buf.getLong(tileStart));
        assertEquals(2, buf.getLong(tileStart + 8));
        assertEquals(3, buf.getLong(tileStart + 16));
        assertEquals(3, buf.getLong(tileStart + 16 * 8), "tileStart[MAX_GROUPS] is the total");
        int tail = tileStart + (GroupedGemm.MAX_GROUPS + 1) * 8;
        assertEquals(2, buf.getLong(tail), "groups");
        assertEquals(4096, buf.getLong(tail + 8), "k");
        assertEquals(9, buf.getLong(tail + 16), "scatterOut");
        assertEquals(5, buf.getLong(tail + 48), "error word");
    }

    @Test
    void moreThanSixteenGroupsSplitIntoLaunches() {
        GroupedGemm g = new GroupedGemm(64);
        for (int e = 0; e < 40; e++) {
            g.add(new GroupedGemm.Group(e, e, 0, e, 1, 64, e));
        }
        assertEquals(3, g.chunks().size());
        assertEquals(8, g.chunks().get(2).gridY());
    }

    @Test
    void kernelErrorsReadAsMessages() {
        assertEquals("writeKv: slots[3] = 99 is outside the cache's slots (0..63)",
                KernelError.describe(new int[] {2, 3, 99, 64}));
        assertTrue(KernelError.describe(new int[] {5, -3, 40, 8}).endsWith("(prefill tile 2)"));
        assertTrue(KernelError.describe(new int[] {77, 0, 0, 0}).contains("unknown error code 77"));
    }
}
