package io.shuttle.kernels;

import io.shuttle.kernels.cpu.CpuBackend;
import io.shuttle.kernels.scalar.ScalarBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.List;

import static io.shuttle.kernels.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad shapes, dtypes and indices are rejected by every backend with the operand named. */
class ChecksTest {

    private static List<Backend> backends;

    @BeforeAll
    static void start() {
        backends = List.of(new ScalarBackend(), new CpuBackend(2));
    }

    @AfterAll
    static void stop() {
        backends.forEach(Backend::close);
    }

    private static void rejects(Executable call, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message '" + e.getMessage() + "' should contain '" + f + "'");
        }
    }

    @Test
    void matmul() {
        for (Backend be : backends) {
            Tensor x = be.allocate(DType.F32, 1, 1024);
            Tensor w = be.allocate(DType.BF16, 8, 4096);
            Tensor out = be.allocate(DType.F32, 1, 8);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> be.matmul(x, w, out));
            assertEquals("matmul: w has 4096 columns but x has 1024 (x Tensor[1, 1024] F32, w Tensor[8, 4096] BF16)",
                    e.getMessage());
            Tensor w2 = be.allocate(DType.BF16, 8, 1024);
            rejects(() -> be.matmul(be.allocate(DType.BF16, 1, 1024), w2, out), "matmul: x must be F32");
            rejects(() -> be.matmul(x, w2, be.allocate(DType.F32, 1, 9)), "matmul: out must be [1, 8]");
            rejects(() -> be.matmul(x, be.allocate(DType.I32, 8, 1024), out), "matmul: w must be F32, BF16 or F16");
            rejects(() -> be.matmul(be.allocate(DType.F32, 1024), w2, out), "matmul: x must be 2-D");
            Tensor square = be.allocate(DType.F32, 4, 4);
            rejects(() -> be.matmul(square, be.allocate(DType.F32, 4, 4), square), "matmul: out", "overlaps x");
        }
    }

    @Test
    void matmulMany() {
        for (Backend be : backends) {
            Tensor x = be.allocate(DType.F32, 1, 64);
            Tensor w = be.allocate(DType.BF16, 8, 64);
            Tensor out = be.allocate(DType.F32, 1, 8);
            rejects(() -> be.matmulMany(x, new Tensor[] {w, w}, new Tensor[] {out}), "matmulMany: ws and outs",
                    "2 weights and 1 outputs");
            rejects(() -> be.matmulMany(x, new Tensor[0], new Tensor[0]), "matmulMany: ws and outs must be non-empty");
            rejects(() -> be.matmulMany(x, new Tensor[] {w, be.allocate(DType.BF16, 8, 32)},
                    new Tensor[] {out, be.allocate(DType.F32, 1, 8)}), "matmul: w has 32 columns but x has 64");
            rejects(() -> be.matmulMany(x, new Tensor[] {w, w}, new Tensor[] {out, out}),
                    "matmulMany: outs[1]", "overlaps outs[0]");
        }
    }

    @Test
    void normsAndElementwise() {
        for (Backend be : backends) {
            Tensor x = be.allocate(DType.F32, 2, 8);
            rejects(() -> be.rmsNorm(x, be.allocate(DType.F32, 7), 1e-5f, x), "rmsNorm: weight has 7 elements");
            rejects(() -> be.rmsNorm(x, be.allocate(DType.F32, 8), -1f, x), "rmsNorm: eps");
            rejects(() -> be.add(x, be.allocate(DType.F32, 2, 9), x), "add: b must have the shape of a");
            rejects(() -> be.siluMul(x, x, be.allocate(DType.BF16, 2, 8)), "siluMul: out must be F32");
        }
    }

    @Test
    void indexOperands() {
        for (Backend be : backends) {
            Tensor table = be.allocate(DType.BF16, 10, 4);
            rejects(() -> be.embedding(table, ints(be, new int[] {1, 99}, 2), be.allocate(DType.F32, 2, 4)),
                    "embedding: ids[1] = 99");
            rejects(() -> be.embedding(table, be.allocate(DType.F32, 2), be.allocate(DType.F32, 2, 4)),
                    "embedding: ids must be I32");
            Tensor k = be.allocate(DType.F32, 2, 4);
            Tensor cache = be.allocate(DType.F32, 8, 4);
            rejects(() -> be.writeKv(k, k, cache, cache, ints(be, new int[] {0, 8}, 2)), "writeKv: slots[1] = 8");
            rejects(() -> be.writeKv(k, k, be.allocate(DType.F32, 8, 5), be.allocate(DType.F32, 8, 5),
                    ints(be, new int[] {0, 1}, 2)), "writeKv: kCache rows have 5");
            Tensor src = be.allocate(DType.F32, 3, 4);
            rejects(() -> be.gatherRows(src, ints(be, new int[] {-1}, 1), be.allocate(DType.F32, 1, 4)),
                    "gatherRows: index[0] = -1");
            rejects(() -> be.scatterAddRows(src, ints(be, new int[] {0, 1, 2}, 3), be.allocate(DType.F32, 2),
                    be.allocate(DType.F32, 3, 4)), "scatterAddRows", "scale");
            rejects(() -> be.routerTopK(be.allocate(DType.F32, 2, 8), 9, be.allocate(DType.I32, 2, 9),
                    be.allocate(DType.F32, 2, 9)), "routerTopK: k must be in 1..8");
            rejects(() -> be.routerTopK(be.allocate(DType.F32, 2, 8), 2, be.allocate(DType.I32, 2, 3),
                    be.allocate(DType.F32, 2, 2)), "routerTopK: ids must be [2, 2]");
        }
    }

    @Test
    void attentionOperands() {
        for (Backend be : backends) {
            Tensor q = be.allocate(DType.F32, 1, 8);
            Tensor out = be.allocate(DType.F32, 1, 8);
            Tensor cache = be.allocate(DType.F32, 8, 4); // 2 blocks of 4 slots, one KV head of 4
            PagedAttentionMeta badBlock = new PagedAttentionMeta(ints(be, new int[] {0, 5}, 1, 2), 4,
                    ints(be, new int[] {0}, 1), ints(be, new int[] {6}, 1));
            rejects(() -> be.pagedAttention(q, cache, cache, badBlock, 2, 1, 4, out),
                    "pagedAttention: meta.blockTables[0, 1] = 5");
            PagedAttentionMeta tooLong = new PagedAttentionMeta(ints(be, new int[] {0, 1}, 1, 2), 4,
                    ints(be, new int[] {0}, 1), ints(be, new int[] {8}, 1));
            rejects(() -> be.pagedAttention(q, cache, cache, tooLong, 2, 1, 4, out), "meta.tokenPos[0] = 8");
            PagedAttentionMeta ok = new PagedAttentionMeta(ints(be, new int[] {0, 1}, 1, 2), 4,
                    ints(be, new int[] {0}, 1), ints(be, new int[] {3}, 1));
            rejects(() -> be.pagedAttention(q, cache, cache, ok, 3, 2, 4, out), "numHeads a multiple of numKvHeads");
            rejects(() -> be.pagedAttention(q, cache, cache, ok, 4, 1, 4, out), "pagedAttention: q rows have 8");
            rejects(() -> be.rope(q, ints(be, new int[] {0}, 1), 2, 3, 1e4f), "rope: ", "headDim positive and even");
            rejects(() -> be.rope(q, ints(be, new int[] {0, 1}, 2), 2, 4, 1e4f), "rope: positions has 2 entries");
            rejects(() -> be.rope(q, ints(be, new int[] {-3}, 1), 2, 4, 1e4f), "rope: positions[0] = -3 is negative");
        }
    }

    @Test
    void memoryOperations() {
        for (Backend be : backends) {
            Tensor t = be.allocate(DType.F32, 4);
            rejects(() -> be.copy(t, be.allocate(DType.F32, 5)), "copy: src");
            rejects(() -> be.copyToHost(t, java.lang.foreign.MemorySegment.ofArray(new byte[8])), "copyToHost: dst has 8 bytes");
            rejects(() -> be.release(Tensor.ofFloats(java.lang.foreign.Arena.ofAuto(), new float[4], 4)),
                    "did not allocate");
        }
    }
}
