package io.shuttle.kernels.cuda;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;
import io.shuttle.kernels.scalar.ScalarBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static io.shuttle.kernels.Fixtures.ints;
import static io.shuttle.kernels.Fixtures.random;
import static io.shuttle.kernels.cuda.GpuFixtures.assertRelErr;
import static io.shuttle.kernels.cuda.GpuFixtures.download;
import static io.shuttle.kernels.cuda.GpuFixtures.poison;
import static io.shuttle.kernels.cuda.GpuFixtures.upload;

/**
 * A Mixtral decoder layer, written once against {@link Backend} and run on the scalar oracle and
 * on the GPU: embedding, RMSNorm, Q/K/V, RoPE, KV write, paged attention, output projection and
 * residual, router top-k, the experts (host grouping as the engine's ExpertStage does) and the
 * second residual — a prefill of two sequences, then a decode step. F32 weights must agree within
 * 1e-5, BF16 weights (tensor cores) within 1e-2; the GPU's grouped expert FFN is checked against
 * the same layer's per-expert path. Skips without a GPU.
 */
class CudaLayerSequenceTest {
    private static final int HIDDEN = 64, HEADS = 4, KV_HEADS = 2, HEAD_DIM = 16, INTER = 96;
    private static final int EXPERTS = 4, TOP_K = 2, VOCAB = 100, BLOCK = 8, MAX_BLOCKS = 4;

    private static ScalarBackend oracle;
    private static CudaBackend gpu;

    @BeforeAll
    static void open() {
        gpu = GpuFixtures.openCheckedOrNull();
        oracle = new ScalarBackend();
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
        if (oracle != null) {
            oracle.close();
        }
    }

    /** Weights of one layer plus embedding, in one backend's memory. */
    private record Weights(Tensor embed, Tensor norm1, Tensor q, Tensor k, Tensor v, Tensor o, Tensor norm2,
                           Tensor router, Tensor[] w1, Tensor[] w3, Tensor[] w2) {
        static Weights random(Random rnd, DType dt) {
            Tensor[] w1 = new Tensor[EXPERTS], w3 = new Tensor[EXPERTS], w2 = new Tensor[EXPERTS];
            for (int e = 0; e < EXPERTS; e++) {
                w1[e] = io.shuttle.kernels.Fixtures.random(oracle, rnd, dt, 0.2f, INTER, HIDDEN);
                w3[e] = io.shuttle.kernels.Fixtures.random(oracle, rnd, dt, 0.2f, INTER, HIDDEN);
                w2[e] = io.shuttle.kernels.Fixtures.random(oracle, rnd, dt, 0.2f, HIDDEN, INTER);
            }
            return new Weights(r(rnd, dt, VOCAB, HIDDEN), r(rnd, dt, HIDDEN), r(rnd, dt, HEADS * HEAD_DIM, HIDDEN),
                    r(rnd, dt, KV_HEADS * HEAD_DIM, HIDDEN), r(rnd, dt, KV_HEADS * HEAD_DIM, HIDDEN),
                    r(rnd, dt, HIDDEN, HEADS * HEAD_DIM), r(rnd, dt, HIDDEN),
                    // The router stays F32 with spread-out logits: a bf16-sized nudge must not flip
                    // a top-k choice, or the comparison would test routing luck, not the kernels.
                    io.shuttle.kernels.Fixtures.random(oracle, rnd, DType.F32, 2f, EXPERTS, HIDDEN), w1, w3, w2);
        }

        private static Tensor r(Random rnd, DType dt, long... shape) {
            return io.shuttle.kernels.Fixtures.random(oracle, rnd, dt, 0.2f, shape);
        }

        Weights on(Backend b) {
            return new Weights(b.prepareWeight(embed), b.prepareWeight(norm1), b.prepareWeight(q),
                    b.prepareWeight(k), b.prepareWeight(v), b.prepareWeight(o), b.prepareWeight(norm2),
                    b.prepareWeight(router), prep(b, w1), prep(b, w3), prep(b, w2));
        }

        private static Tensor[] prep(Backend b, Tensor[] ts) {
            Tensor[] out = new Tensor[ts.length];
            for (int i = 0; i < ts.length; i++) {
                out[i] = b.prepareWeight(ts[i]);
            }
            return out;
        }
    }

    /** The step's index inputs (host copies), uploaded into each backend. */
    private record Step(int[] tokens, int[] positions, int[] slots, int[] tokenSeq, int[] tables, int numSeqs) {
    }

    @Test
    void f32LayerMatchesOracleWithin1e5() {
        runLayer(DType.F32, 1e-5, 201);
    }

    @Test
    void bf16LayerMatchesOracleWithin1e2() {
        runLayer(DType.BF16, 1e-2, 202);
    }

    @Test
    void groupedExpertFfnMatchesPerExpertPath() {
        Random rnd = new Random(203);
        Weights w = Weights.random(rnd, DType.BF16).on(gpu);
        int n = 40;
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = upload(gpu, random(oracle, rnd, DType.F32, 1f, n, HIDDEN));
            // Expert 2 gets no rows; the others several, tokens listed in routing order.
            int[][] rowsOf = {{0, 3, 5, 7, 11, 39}, {1, 2, 3, 38}, {}, {0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 15,
                    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38}};
            List<Integer> index = new ArrayList<>();
            int[] offsets = new int[EXPERTS + 1];
            for (int e = 0; e < EXPERTS; e++) {
                for (int t : rowsOf[e]) {
                    index.add(t);
                }
                offsets[e + 1] = index.size();
            }
            int routed = index.size();
            float[] scale = new float[routed];
            for (int i = 0; i < routed; i++) {
                scale[i] = rnd.nextFloat();
            }
            Tensor idx = upload(gpu, ints(oracle, index.stream().mapToInt(Integer::intValue).toArray(), routed));
            Tensor sc = upload(gpu, Tensor.ofFloats(arena, scale, routed));
            Tensor expected = gpu.allocate(DType.F32, n, HIDDEN);
            expertsPerExpert(gpu, x, idx, sc, offsets, w, expected);
            Tensor fused = gpu.allocate(DType.F32, n, HIDDEN);
            gpu.expertFfn(x, idx, sc, offsets, w.w1(), w.w3(), w.w2(), fused);
            assertRelErr(download(gpu, expected, arena), download(gpu, fused, arena), 1e-2, "expertFfn");
        }
    }

    private void runLayer(DType dt, double tol, long seed) {
        Random rnd = new Random(seed);
        Weights host = Weights.random(rnd, dt);
        Weights ow = host.on(oracle);
        Weights gw = host.on(gpu);
        long slots = (long) 2 * MAX_BLOCKS * BLOCK;
        Tensor okc = oracle.allocate(DType.F32, slots, KV_HEADS * HEAD_DIM);
        Tensor ovc = oracle.allocate(DType.F32, slots, KV_HEADS * HEAD_DIM);
        Tensor gkc = gpu.allocate(DType.F32, slots, KV_HEADS * HEAD_DIM);
        Tensor gvc = gpu.allocate(DType.F32, slots, KV_HEADS * HEAD_DIM);
        int[] tables = {3, 0, 6, 1, 2, 7, 4, 5};  // sequence 0: blocks 3,0,6,1; sequence 1: 2,7,4,5
        // Prefill: 11 tokens of sequence 0 then 9 of sequence 1 (20 rows: the prefill kernel).
        int n = 20;
        int[] tokens = new int[n], pos = new int[n], slot = new int[n], seq = new int[n];
        for (int i = 0; i < n; i++) {
            seq[i] = i < 11 ? 0 : 1;
            pos[i] = i < 11 ? i : i - 11;
            tokens[i] = rnd.nextInt(VOCAB);
            slot[i] = tables[seq[i] * MAX_BLOCKS + pos[i] / BLOCK] * BLOCK + pos[i] % BLOCK;
        }
        Step prefill = new Step(tokens, pos, slot, seq, tables, 2);
        // Decode: one more token for each sequence (2 rows: the decode kernel, GEMV matmuls).
        Step decode = new Step(new int[] {rnd.nextInt(VOCAB), rnd.nextInt(VOCAB)}, new int[] {11, 9},
                new int[] {tables[1] * BLOCK + 3, tables[MAX_BLOCKS + 1] * BLOCK + 1}, new int[] {0, 1}, tables, 2);
        try (Arena arena = Arena.ofConfined()) {
            for (Step step : new Step[] {prefill, decode}) {
                Tensor expected = layer(oracle, ow, okc, ovc, step);
                Tensor actual = layer(gpu, gw, gkc, gvc, step);
                String what = dt + " layer, " + step.tokens().length + " rows";
                assertRelErr(expected, download(gpu, actual, arena), tol, what);
                assertRelErr(okc, download(gpu, gkc, arena), tol, what + ": key cache");
            }
        }
    }

    /** The layer on any backend; returns the hidden states after both residuals. */
    private static Tensor layer(Backend b, Weights w, Tensor kc, Tensor vc, Step s) {
        int n = s.tokens().length;
        Tensor tokens = up(b, ints(oracle, s.tokens(), n));
        Tensor positions = up(b, ints(oracle, s.positions(), n));
        Tensor slots = up(b, ints(oracle, s.slots(), n));
        PagedAttentionMeta meta = new PagedAttentionMeta(up(b, ints(oracle, s.tables(), s.numSeqs(), MAX_BLOCKS)),
                BLOCK, up(b, ints(oracle, s.tokenSeq(), n)), positions);
        Tensor h = fresh(b, n, HIDDEN);
        b.embedding(w.embed(), tokens, h);
        Tensor x = fresh(b, n, HIDDEN);
        b.rmsNorm(h, w.norm1(), 1e-5f, x);
        Tensor q = fresh(b, n, HEADS * HEAD_DIM);
        Tensor k = fresh(b, n, KV_HEADS * HEAD_DIM);
        Tensor v = fresh(b, n, KV_HEADS * HEAD_DIM);
        b.matmulMany(x, new Tensor[] {w.q(), w.k(), w.v()}, new Tensor[] {q, k, v});
        b.rope(q, positions, HEADS, HEAD_DIM, 10000f);
        b.rope(k, positions, KV_HEADS, HEAD_DIM, 10000f);
        b.writeKv(k, v, kc, vc, slots);
        Tensor attn = fresh(b, n, HEADS * HEAD_DIM);
        b.pagedAttention(q, kc, vc, meta, HEADS, KV_HEADS, HEAD_DIM, attn);
        Tensor proj = fresh(b, n, HIDDEN);
        b.matmul(attn, w.o(), proj);
        b.add(h, proj, h);
        b.rmsNorm(h, w.norm2(), 1e-5f, x);
        Tensor logits = fresh(b, n, EXPERTS);
        b.matmul(x, w.router(), logits);
        Tensor ids = b.allocate(DType.I32, n, TOP_K);
        Tensor weights = fresh(b, n, TOP_K);
        b.routerTopK(logits, TOP_K, ids, weights);

        // Host grouping of routed rows by expert, as ExpertStage does.
        int[] hostIds = new int[n * TOP_K];
        float[] hostW = new float[n * TOP_K];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate((long) n * TOP_K * 4);
            b.copyToHost(ids, seg);
            MemorySegment.copy(seg, ValueLayout.JAVA_INT, 0, hostIds, 0, hostIds.length);
            b.copyToHost(weights, seg);
            MemorySegment.copy(seg, ValueLayout.JAVA_FLOAT, 0, hostW, 0, hostW.length);
        }
        int[] offsets = new int[EXPERTS + 1];
        int[] index = new int[n * TOP_K];
        float[] scale = new float[n * TOP_K];
        int r = 0;
        for (int e = 0; e < EXPERTS; e++) {
            for (int i = 0; i < n * TOP_K; i++) {
                if (hostIds[i] == e) {
                    index[r] = i / TOP_K;
                    scale[r++] = hostW[i];
                }
            }
            offsets[e + 1] = r;
        }
        Tensor idx = up(b, ints(oracle, index, r));
        Tensor sc;
        try (Arena arena = Arena.ofConfined()) {
            sc = up(b, Tensor.ofFloats(arena, scale, r));
        }
        Tensor moe = b.allocate(DType.F32, n, HIDDEN);
        expertsPerExpert(b, x, idx, sc, offsets, w, moe);
        b.add(h, moe, h);
        return h;
    }

    /** ExpertStage's per-expert sequence through the Backend interface. */
    private static void expertsPerExpert(Backend b, Tensor x, Tensor idx, Tensor sc, int[] offsets, Weights w,
                                         Tensor out) {
        b.zero(out);
        for (int e = 0; e < EXPERTS; e++) {
            int from = offsets[e], to = offsets[e + 1];
            if (from == to) {
                continue;
            }
            Tensor g = fresh(b, to - from, HIDDEN);
            Tensor a = fresh(b, to - from, INTER);
            Tensor c = fresh(b, to - from, INTER);
            Tensor d = fresh(b, to - from, HIDDEN);
            Tensor rows = idx.rows(from, to);
            b.gatherRows(x, rows, g);
            b.matmulMany(g, new Tensor[] {w.w1()[e], w.w3()[e]}, new Tensor[] {a, c});
            b.siluMul(a, c, a);
            b.matmul(a, w.w2()[e], d);
            b.scatterAddRows(d, rows, sc.rows(from, to), out);
        }
    }

    /** A host tensor in b's memory (the oracle's memory is host memory already). */
    private static Tensor up(Backend b, Tensor host) {
        if (b instanceof CudaBackend g) {
            return upload(g, host);
        }
        Tensor t = b.allocate(host.dtype(), host.shape());
        t.data().copyFrom(host.data());
        return t;
    }

    /** An output tensor, NaN-poisoned on the GPU so that anything left unwritten fails the comparison. */
    private static Tensor fresh(Backend b, long... shape) {
        Tensor t = b.allocate(DType.F32, shape);
        if (b instanceof CudaBackend g) {
            try (Arena arena = Arena.ofConfined()) {
                poison(g, arena, t);
            }
        }
        return t;
    }
}
