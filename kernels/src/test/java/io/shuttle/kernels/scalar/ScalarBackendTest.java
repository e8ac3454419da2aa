package io.shuttle.kernels.scalar;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static io.shuttle.kernels.Fixtures.floats;
import static io.shuttle.kernels.Fixtures.ints;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The oracle against results worked out by hand (values from the formulas, computed
 * independently in Python), so that the parity tests do not merely compare two copies of one
 * mistake.
 */
class ScalarBackendTest {

    private static final float EPS = 1e-6f;
    private final ScalarBackend be = new ScalarBackend();

    @AfterEach
    void close() {
        be.close();
    }

    @Test
    void matmulTwoByThree() {
        Tensor x = floats(be, new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            Tensor w = be.allocate(dt, 2, 3);
            float[] wv = {1, 0, -1, 2, 1, 0};
            for (int i = 0; i < wv.length; i++) {
                w.setFloat(i, wv[i]);
            }
            Tensor out = be.allocate(DType.F32, 2, 2);
            be.matmul(x, w, out);
            // row 0: [1·1 + 2·0 + 3·(−1), 1·2 + 2·1 + 3·0]; row 1: [4 − 6, 8 + 5]
            assertArrayEquals(new float[] {-2, 4, -2, 13}, out.toFloatArray(), dt.toString());
        }
    }

    @Test
    void rmsNormOfThreeFour() {
        Tensor x = floats(be, new float[] {3, 4}, 1, 2);
        Tensor w = floats(be, new float[] {1, 2}, 2);
        be.rmsNorm(x, w, 0f, x); // in place
        // mean(x²) = 12.5, so x / sqrt(12.5) * w
        assertArrayEquals(new float[] {0.848528137f, 2.262741700f}, x.toFloatArray(), EPS);
    }

    @Test
    void addAndSiluMul() {
        Tensor a = floats(be, new float[] {1, 0, -2}, 1, 3);
        Tensor b = floats(be, new float[] {2, 5, 1}, 1, 3);
        Tensor out = be.allocate(DType.F32, 1, 3);
        be.add(a, b, out);
        assertArrayEquals(new float[] {3, 5, -1}, out.toFloatArray());
        be.siluMul(a, b, out);
        // silu(1)·2 = 2/(1+e^-1); silu(0)·5 = 0; silu(−2)·1 = −2/(1+e^2)
        assertArrayEquals(new float[] {1.462117157f, 0f, -0.238405844f}, out.toFloatArray(), EPS);
    }

    @Test
    void embeddingPicksRows() {
        Tensor table = be.allocate(DType.BF16, 3, 2);
        float[] tv = {1, 2, 3, 4, 5, 6};
        for (int i = 0; i < tv.length; i++) {
            table.setFloat(i, tv[i]);
        }
        Tensor out = be.allocate(DType.F32, 2, 2);
        be.embedding(table, ints(be, new int[] {2, 0}, 2), out);
        assertArrayEquals(new float[] {5, 6, 1, 2}, out.toFloatArray());
    }

    @Test
    void ropeAtPositionOneRotatesHalvesByTheirFrequencies() {
        // headDim 4, theta 10000: inv_freq = [1, 10000^(−1/2) = 0.01]; pairs (x0, x2) and (x1, x3).
        Tensor x = floats(be, new float[] {1, 2, 3, 4, 1, 2, 3, 4}, 2, 4);
        be.rope(x, ints(be, new int[] {1, 0}, 2), 1, 4, 10000f);
        float[] expected = {
            (float) (1 * Math.cos(1) - 3 * Math.sin(1)), (float) (2 * Math.cos(0.01) - 4 * Math.sin(0.01)),
            (float) (3 * Math.cos(1) + 1 * Math.sin(1)), (float) (4 * Math.cos(0.01) + 2 * Math.sin(0.01)),
            1, 2, 3, 4, // position 0 is the identity
        };
        assertArrayEquals(expected, x.toFloatArray(), EPS);
        assertArrayEquals(new float[] {-1.984110649f, 1.959900667f, 2.462377902f, 4.019799668f},
                java.util.Arrays.copyOf(x.toFloatArray(), 4), EPS);
    }

    @Test
    void writeKvStoresRowsAtSlots() {
        Tensor k = floats(be, new float[] {1, 2, 3, 4}, 2, 2);
        Tensor v = floats(be, new float[] {5, 6, 7, 8}, 2, 2);
        Tensor kc = be.allocate(DType.F32, 4, 2);
        Tensor vc = be.allocate(DType.F32, 4, 2);
        be.writeKv(k, v, kc, vc, ints(be, new int[] {3, 0}, 2));
        assertArrayEquals(new float[] {3, 4, 0, 0, 0, 0, 1, 2}, kc.toFloatArray());
        assertArrayEquals(new float[] {7, 8, 0, 0, 0, 0, 5, 6}, vc.toFloatArray());
    }

    @Test
    void attentionOverTwoPositionsInScatteredBlocks() {
        // blockSize 1; the sequence's blocks are [1, 0]: position 0 lives in slot 1, position 1 in slot 0.
        Tensor kc = floats(be, new float[] {0, 1, /* slot 1 = pos 0 */ 1, 0}, 2, 2);
        Tensor vc = floats(be, new float[] {3, 4, /* pos 0 */ 1, 2}, 2, 2);
        PagedAttentionMeta meta = new PagedAttentionMeta(ints(be, new int[] {1, 0}, 1, 2), 1,
                ints(be, new int[] {0, 0}, 2), ints(be, new int[] {1, 0}, 2));
        // Two query heads sharing the single KV head (GQA): head 0 = [1, 0], head 1 = [0, 1].
        Tensor q = floats(be, new float[] {1, 0, 0, 1, 1, 0, 0, 1}, 2, 4);
        Tensor out = be.allocate(DType.F32, 2, 4);
        be.pagedAttention(q, kc, vc, meta, 2, 1, 2, out);
        // Row 0 (pos 1), head 0: scores [1/√2, 0] → p = [e^(1/√2), 1] / (e^(1/√2) + 1) = [0.66976, 0.33024]
        // → p0·[1, 2] + p1·[3, 4]; head 1: scores [0, 1/√2], weights swapped. Row 1 (pos 0) sees only v0.
        assertArrayEquals(new float[] {1.660476901f, 2.660476901f, 2.339523099f, 3.339523099f, 1, 2, 1, 2},
                out.toFloatArray(), EPS);
    }

    @Test
    void routerTopKBreaksTiesTowardsLowerIdAndRenormalises() {
        Tensor logits = floats(be, new float[] {1, 3, 3, 2, 0, 1, 2, 0}, 2, 4);
        Tensor ids = be.allocate(DType.I32, 2, 2);
        Tensor weights = be.allocate(DType.F32, 2, 2);
        be.routerTopK(logits, 2, ids, weights);
        // Row 0: experts 1 and 2 tie at the top → [1, 2], each half. Row 1: [2, 1] with e²/(e²+e) and e/(e²+e).
        assertArrayEquals(new int[] {1, 2, 2, 1}, ids.toIntArray());
        assertArrayEquals(new float[] {0.5f, 0.5f, 0.731058579f, 0.268941421f}, weights.toFloatArray(), EPS);

        Tensor id1 = be.allocate(DType.I32, 2, 1);
        Tensor w1 = be.allocate(DType.F32, 2, 1);
        be.routerTopK(logits, 1, id1, w1);
        assertArrayEquals(new int[] {1, 2}, id1.toIntArray());
        assertArrayEquals(new float[] {1, 1}, w1.toFloatArray());
    }

    @Test
    void gatherAndScatterAddRows() {
        Tensor src = floats(be, new float[] {1, 2, 3, 4, 5, 6}, 3, 2);
        Tensor gathered = be.allocate(DType.F32, 3, 2);
        be.gatherRows(src, ints(be, new int[] {2, 2, 0}, 3), gathered);
        assertArrayEquals(new float[] {5, 6, 5, 6, 1, 2}, gathered.toFloatArray());

        Tensor out = floats(be, new float[] {1, 1, 1, 1, 1, 1}, 3, 2);
        be.scatterAddRows(floats(be, new float[] {1, 2, 3, 4}, 2, 2), ints(be, new int[] {2, 0}, 2),
                floats(be, new float[] {0.5f, 2f}, 2), out);
        // out[2] += 0.5·[1, 2]; out[0] += 2·[3, 4]; out[1] untouched
        assertArrayEquals(new float[] {7, 9, 1, 1, 1.5f, 2}, out.toFloatArray());
    }
}
