package io.shuttle.kernels.cuda;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;
import io.shuttle.kernels.scalar.ScalarBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Random;

import static io.shuttle.kernels.Fixtures.ints;
import static io.shuttle.kernels.Fixtures.random;
import static io.shuttle.kernels.Fixtures.shuffledBlocks;
import static io.shuttle.kernels.cuda.GpuFixtures.assertRelErr;
import static io.shuttle.kernels.cuda.GpuFixtures.download;
import static io.shuttle.kernels.cuda.GpuFixtures.poisoned;
import static io.shuttle.kernels.cuda.GpuFixtures.upload;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * Every CUDA kernel against the ScalarBackend oracle on fresh seeded inputs: outputs poisoned
 * with NaN first, the backend in checked mode (synchronise and read the error word after every
 * launch). F32 paths within 1e-5 relative error; paths that round an operand to bf16 (the
 * tensor-core GEMMs) within 1e-2. Skips without a GPU.
 */
class CudaKernelParityTest {
    private static final double F32_TOL = 1e-5;
    private static final double BF16_TOL = 1e-2;

    private static ScalarBackend oracle;
    private static CudaBackend gpu;
    private Arena arena;

    @BeforeAll
    static void open() {
        gpu = GpuFixtures.openCheckedOrNull();
        oracle = new ScalarBackend();
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
        if (oracle != null) {
            oracle.close();
        }
    }

    @BeforeEach
    void arena() {
        GpuFixtures.assumeGpu(gpu);
        arena = Arena.ofConfined();
    }

    @AfterEach
    void closeArena() {
        if (arena != null) {
            arena.close();
        }
    }

    private Tensor run(Tensor deviceOut) {
        return download(gpu, deviceOut, arena);
    }

    @Test
    void matmulEveryPathAndWeightType() {
        Random rnd = new Random(101);
        // n: GEMV (1, 3, 8) and GEMM (9, 70); k: vectorised (96, 1104), scalar/SIMT (37).
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (int n : new int[] {1, 3, 8, 9, 70}) {
                for (int[] mk : new int[][] {{13, 37}, {70, 96}, {65, 1104}}) {
                    int m = mk[0], k = mk[1];
                    Tensor x = random(oracle, rnd, DType.F32, 1f, n, k);
                    Tensor w = random(oracle, rnd, dt, 1f, m, k);
                    Tensor expected = oracle.allocate(DType.F32, n, m);
                    oracle.matmul(x, w, expected);
                    Tensor out = poisoned(gpu, arena, DType.F32, n, m);
                    gpu.matmul(upload(gpu, x), gpu.prepareWeight(w), out);
                    boolean tensorCores = dt == DType.BF16 && n > CudaMatmul.GEMV_MAX_ROWS && k % 8 == 0;
                    assertRelErr(expected, run(out), tensorCores ? BF16_TOL : F32_TOL,
                            "matmul " + dt + " n=" + n + " m=" + m + " k=" + k);
                }
            }
        }
    }

    @Test
    void matmulManySharesOneGroupedLaunch() {
        Random rnd = new Random(102);
        int n = 33, k = 64;
        int[] ms = {64, 16, 16, 40};
        Tensor x = random(oracle, rnd, DType.F32, 1f, n, k);
        Tensor dx = upload(gpu, x);
        Tensor[] ws = new Tensor[ms.length];
        Tensor[] outs = new Tensor[ms.length];
        for (int j = 0; j < ms.length; j++) {
            ws[j] = gpu.prepareWeight(random(oracle, rnd, DType.BF16, 1f, ms[j], k));
            outs[j] = poisoned(gpu, arena, DType.F32, n, ms[j]);
        }
        gpu.matmulMany(dx, ws, outs);
        for (int j = 0; j < ms.length; j++) {
            Tensor expected = oracle.allocate(DType.F32, n, ms[j]);
            oracle.matmul(x, download(gpu, ws[j], arena), expected);
            assertRelErr(expected, run(outs[j]), BF16_TOL, "matmulMany output " + j);
        }
    }

    @Test
    void rmsNormAndFusedAddRmsNorm() {
        Random rnd = new Random(103);
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (int d : new int[] {16, 100, 1030}) {
                int n = 5;
                Tensor x = random(oracle, rnd, DType.F32, 2f, n, d);
                Tensor delta = random(oracle, rnd, DType.F32, 1f, n, d);
                Tensor w = random(oracle, rnd, dt, 1f, d);
                Tensor expected = oracle.allocate(DType.F32, n, d);
                oracle.rmsNorm(x, w, 1e-5f, expected);
                Tensor out = poisoned(gpu, arena, DType.F32, n, d);
                Tensor dw = gpu.prepareWeight(w);
                gpu.rmsNorm(upload(gpu, x), dw, 1e-5f, out);
                assertRelErr(expected, run(out), F32_TOL, "rmsNorm " + dt + " d=" + d);

                Tensor sum = oracle.allocate(DType.F32, n, d);
                oracle.add(x, delta, sum);
                Tensor expectedNorm = oracle.allocate(DType.F32, n, d);
                oracle.rmsNorm(sum, w, 1e-5f, expectedNorm);
                Tensor h = upload(gpu, x);
                Tensor fused = poisoned(gpu, arena, DType.F32, n, d);
                gpu.addRmsNorm(h, upload(gpu, delta), dw, 1e-5f, fused);
                assertRelErr(sum, run(h), F32_TOL, "addRmsNorm residual " + dt + " d=" + d);
                assertRelErr(expectedNorm, run(fused), F32_TOL, "addRmsNorm norm " + dt + " d=" + d);
            }
        }
    }

    @Test
    void addSiluMulAndInPlaceAliases() {
        Random rnd = new Random(104);
        Tensor a = random(oracle, rnd, DType.F32, 3f, 7, 301);
        Tensor b = random(oracle, rnd, DType.F32, 3f, 7, 301);
        Tensor sum = oracle.allocate(DType.F32, 7, 301);
        oracle.add(a, b, sum);
        Tensor silu = oracle.allocate(DType.F32, 7, 301);
        oracle.siluMul(a, b, silu);
        Tensor out = poisoned(gpu, arena, DType.F32, 7, 301);
        Tensor da = upload(gpu, a);
        Tensor db = upload(gpu, b);
        gpu.add(da, db, out);
        assertRelErr(sum, run(out), F32_TOL, "add");
        gpu.siluMul(da, db, out);
        assertRelErr(silu, run(out), F32_TOL, "siluMul");
        gpu.siluMul(da, db, da);  // out aliases gate
        assertRelErr(silu, run(da), F32_TOL, "siluMul in place");
    }

    @Test
    void embeddingEveryTableType() {
        Random rnd = new Random(105);
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            Tensor table = random(oracle, rnd, dt, 1f, 50, 24);
            int[] idv = {0, 49, 7, 7, 23};
            Tensor ids = ints(oracle, idv, idv.length);
            Tensor expected = oracle.allocate(DType.F32, idv.length, 24);
            oracle.embedding(table, ids, expected);
            Tensor out = poisoned(gpu, arena, DType.F32, idv.length, 24);
            gpu.embedding(gpu.prepareWeight(table), upload(gpu, ids), out);
            assertRelErr(expected, run(out), 0, "embedding " + dt);
        }
    }

    @Test
    void ropeAtLargePositions() {
        Random rnd = new Random(106);
        for (int headDim : new int[] {16, 128}) {
            int heads = 3, n = 4;
            Tensor x = random(oracle, rnd, DType.F32, 1f, n, heads * headDim);
            Tensor pos = ints(oracle, new int[] {0, 1, 4095, 31999}, n);
            Tensor dx = upload(gpu, x);
            gpu.rope(dx, upload(gpu, pos), heads, headDim, 1e6f);
            oracle.rope(x, pos, heads, headDim, 1e6f);
            assertRelErr(x, run(dx), F32_TOL, "rope headDim=" + headDim);
        }
    }

    @Test
    void routerTopKMatchesIdsAndWeights() {
        Random rnd = new Random(107);
        for (int[] ek : new int[][] {{8, 2}, {4, 1}, {64, 6}, {5, 5}}) {
            int n = 37, experts = ek[0], k = ek[1];
            Tensor logits = random(oracle, rnd, DType.F32, 4f, n, experts);
            Tensor ids = oracle.allocate(DType.I32, n, k);
            Tensor weights = oracle.allocate(DType.F32, n, k);
            oracle.routerTopK(logits, k, ids, weights);
            Tensor dIds = poisoned(gpu, arena, DType.I32, n, k);
            Tensor dW = poisoned(gpu, arena, DType.F32, n, k);
            gpu.routerTopK(upload(gpu, logits), k, dIds, dW);
            assertArrayEquals(ids.toIntArray(), run(dIds).toIntArray(), "router ids E=" + experts + " k=" + k);
            assertRelErr(weights, run(dW), F32_TOL, "router weights E=" + experts + " k=" + k);
        }
    }

    @Test
    void gatherAndScatterAddRows() {
        Random rnd = new Random(108);
        Tensor src = random(oracle, rnd, DType.F32, 1f, 9, 33);
        Tensor index = ints(oracle, new int[] {8, 0, 3, 3}, 4);
        Tensor gathered = oracle.allocate(DType.F32, 4, 33);
        oracle.gatherRows(src, index, gathered);
        Tensor out = poisoned(gpu, arena, DType.F32, 4, 33);
        gpu.gatherRows(upload(gpu, src), upload(gpu, index), out);
        assertRelErr(gathered, run(out), 0, "gatherRows");

        Tensor rows = random(oracle, rnd, DType.F32, 1f, 3, 33);
        Tensor dst = ints(oracle, new int[] {5, 1, 8}, 3);
        Tensor scale = random(oracle, rnd, DType.F32, 1f, 3);
        Tensor base = random(oracle, rnd, DType.F32, 1f, 9, 33);
        Tensor dBase = upload(gpu, base);
        oracle.scatterAddRows(rows, dst, scale, base);
        gpu.scatterAddRows(upload(gpu, rows), upload(gpu, dst), upload(gpu, scale), dBase);
        assertRelErr(base, run(dBase), F32_TOL, "scatterAddRows");
    }

    @Test
    void pagedAttentionDecodeAndPrefillKernels() {
        Random rnd = new Random(109);
        // {numHeads, numKvHeads, headDim}: GQA 4/2 with a tiny head, Mixtral-like 8 per KV head, d256, 12 per KV head (2 chunks).
        int[][] shapes = {{4, 2, 16}, {16, 2, 128}, {8, 2, 256}, {12, 1, 64}};
        for (int[] s : shapes) {
            int heads = s[0], kvHeads = s[1], headDim = s[2];
            int blockSize = 16, numBlocks = 24, maxBlocks = 8;
            Tensor kc = random(oracle, rnd, DType.F32, 1f, (long) numBlocks * blockSize, (long) kvHeads * headDim);
            Tensor vc = random(oracle, rnd, DType.F32, 1f, (long) numBlocks * blockSize, (long) kvHeads * headDim);
            int[] order = shuffledBlocks(rnd, numBlocks);
            int[] tables = new int[3 * maxBlocks];
            System.arraycopy(order, 0, tables, 0, tables.length);
            // 21 rows interleaving 3 sequences, so prefill tiles mix sequences; positions up to 127.
            int n = 21;
            int[] seq = new int[n];
            int[] pos = new int[n];
            for (int i = 0; i < n; i++) {
                seq[i] = i < 10 ? 0 : (i % 3);
                pos[i] = i < 10 ? 100 + i : rnd.nextInt(maxBlocks * blockSize);
            }
            PagedAttentionMeta meta = new PagedAttentionMeta(ints(oracle, tables, 3, maxBlocks), blockSize,
                    ints(oracle, seq, n), ints(oracle, pos, n));
            Tensor q = random(oracle, rnd, DType.F32, 1f, n, (long) heads * headDim);
            Tensor expected = oracle.allocate(DType.F32, n, (long) heads * headDim);
            oracle.pagedAttention(q, kc, vc, meta, heads, kvHeads, headDim, expected);

            Tensor dq = upload(gpu, q);
            Tensor dk = upload(gpu, kc);
            Tensor dv = upload(gpu, vc);
            PagedAttentionMeta dmeta = new PagedAttentionMeta(upload(gpu, meta.blockTables()), blockSize,
                    upload(gpu, meta.tokenSeq()), upload(gpu, meta.tokenPos()));
            Kernel[] kernels = headDim <= 128
                    ? new Kernel[] {Kernel.ATTENTION_DECODE_D128, Kernel.ATTENTION_PREFILL_D128,
                                    Kernel.ATTENTION_DECODE_D256}
                    : new Kernel[] {Kernel.ATTENTION_DECODE_D256};
            for (Kernel kernel : kernels) {
                Tensor out = poisoned(gpu, arena, DType.F32, n, (long) heads * headDim);
                gpu.pagedAttentionWith(kernel, dq, dk, dv, dmeta, heads, kvHeads, headDim, out);
                assertRelErr(expected, run(out), F32_TOL, kernel.entry() + " heads " + heads + "/" + kvHeads
                        + " headDim " + headDim);
            }
            Tensor out = poisoned(gpu, arena, DType.F32, n, (long) heads * headDim);
            gpu.pagedAttention(dq, dk, dv, dmeta, heads, kvHeads, headDim, out);
            assertRelErr(expected, run(out), F32_TOL, "pagedAttention (auto) headDim " + headDim);
        }
    }

    @Test
    void writeKvStoresRowsAtSlots() {
        Random rnd = new Random(110);
        Tensor k = random(oracle, rnd, DType.F32, 1f, 4, 40);
        Tensor v = random(oracle, rnd, DType.F32, 1f, 4, 40);
        Tensor slots = ints(oracle, new int[] {31, 0, 17, 5}, 4);
        Tensor kc = random(oracle, rnd, DType.F32, 1f, 32, 40);
        Tensor vc = random(oracle, rnd, DType.F32, 1f, 32, 40);
        Tensor dkc = upload(gpu, kc);
        Tensor dvc = upload(gpu, vc);
        gpu.writeKv(upload(gpu, k), upload(gpu, v), dkc, dvc, upload(gpu, slots));
        oracle.writeKv(k, v, kc, vc, slots);
        assertRelErr(kc, run(dkc), 0, "writeKv keys");
        assertRelErr(vc, run(dvc), 0, "writeKv values");
    }

    @Test
    void copyZeroAndRelease() {
        Random rnd = new Random(111);
        Tensor a = random(oracle, rnd, DType.F32, 1f, 3, 5);
        int before = gpu.liveAllocations();
        Tensor da = upload(gpu, a);
        Tensor db = poisoned(gpu, arena, DType.F32, 3, 5);
        gpu.copy(da, db);
        assertRelErr(a, run(db), 0, "copy");
        gpu.zero(db);
        assertRelErr(oracle.allocate(DType.F32, 3, 5), run(db), 0, "zero");
        gpu.release(da);
        gpu.release(db);
        org.junit.jupiter.api.Assertions.assertEquals(before, gpu.liveAllocations(), "release frees");
    }
}
