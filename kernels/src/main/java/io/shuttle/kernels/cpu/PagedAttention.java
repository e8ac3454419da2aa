package io.shuttle.kernels.cpu;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static io.shuttle.kernels.cpu.Simd.F;
import static io.shuttle.kernels.cpu.Simd.F32;
import static io.shuttle.kernels.cpu.Simd.I32;
import static io.shuttle.kernels.cpu.Simd.L;
import static io.shuttle.kernels.cpu.Simd.LE;

/**
 * Causal attention of each query row over its sequence's paged K/V cache, grouped-query heads.
 *
 * <p>One unit of work is a query row with all its KV heads, or, when there are fewer than
 * {@link #ROWS_PER_WORKER_FOR_WHOLE_ROWS} rows per worker (a small decode batch on many
 * threads), a (query row, KV head) pair. A KV head serves every query head of its group in one
 * walk over the sequence, so each K and V row is read from memory once per row instead of once
 * per query head (the 2× of the {@code small} model's 8-over-4 heads was most of the old kernel's
 * traffic). Whole rows take each cache block's slots (every KV head's keys, then values) while
 * the block is in L1: per-head units walked the same block four times, each a quarter of every
 * slot, and measured 10 % slower at 256 decode rows of 40 positions. The walk goes one cache
 * block at a time (slots within a block are contiguous): the scores of the block's positions for the group's heads go to scratch
 * (query heads two at a time, so each K vector loaded feeds two FMAs; the block's K rows stay in
 * L1 for the next pair), are exponentiated together against each head's running maximum, and
 * the V rows are accumulated with the accumulator held in registers across the block — the
 * online ("flash") softmax, so K and V are each read once and the accumulator is rescaled only
 * when a block raises the maximum. All vector work uses {@link Simd#F} with scalar tails, and
 * the only arrays touched in the inner loops are per-worker scratch (no allocation per call).
 *
 * <p>Units are dealt round-robin to workers so that prefill rows (whose lengths grow with the
 * row) spread evenly. {@link #prepare} reports the K/V elements read as the work: a decode row
 * of the {@code small} model (4 KV heads of 64) goes to the pool from 64 positions on, which
 * measured no slower than the calling thread alone at context 128 and faster from 512 on.
 */
final class PagedAttention implements WorkerPool.Job {

    /** Per worker: the group's queries, accumulators, block scores, and per-head max/sum. */
    private final float[][] queries;
    private final float[][] acc;
    private final float[][] scores;
    private final float[][] maxes;
    private final float[][] sums;

    private MemorySegment q;
    private MemorySegment k;
    private MemorySegment v;
    private MemorySegment out;
    private MemorySegment tables;
    private MemorySegment tokenSeq;
    private MemorySegment tokenPos;
    private int maxBlocks;
    private int blockSize;
    private int n;
    private int numHeads;
    private int numKvHeads;
    private int group;
    private int headDim;
    private int kvRow;
    private float scale;
    /** KV heads per unit of work: all of a row's when there are rows enough for every worker, else one. */
    private int headsPerUnit;
    /** Rows per worker from which a unit is a whole row (all KV heads): see the class comment. */
    static final int ROWS_PER_WORKER_FOR_WHOLE_ROWS = 4;

    PagedAttention(int workers) {
        queries = new float[workers][0];
        acc = new float[workers][0];
        scores = new float[workers][0];
        maxes = new float[workers][0];
        sums = new float[workers][0];
    }

    /** Stores the operands; returns the K and V elements the call reads (its cost, for the dispatch decision). */
    long prepare(Tensor q, Tensor kCache, Tensor vCache, PagedAttentionMeta meta, int numHeads, int numKvHeads,
                 int headDim, Tensor out) {
        this.q = q.data();
        this.k = kCache.data();
        this.v = vCache.data();
        this.out = out.data();
        this.tables = meta.blockTables().data();
        this.tokenSeq = meta.tokenSeq().data();
        this.tokenPos = meta.tokenPos().data();
        this.maxBlocks = meta.maxBlocksPerSeq();
        this.blockSize = meta.blockSize();
        this.n = (int) q.dim(0);
        this.numHeads = numHeads;
        this.numKvHeads = numKvHeads;
        this.group = numHeads / numKvHeads;
        this.headDim = headDim;
        this.kvRow = numKvHeads * headDim;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
        this.headsPerUnit = n >= ROWS_PER_WORKER_FOR_WHOLE_ROWS * acc.length ? numKvHeads : 1;
        int unitHeads = headsPerUnit * group;
        for (int w = 0; w < acc.length; w++) {
            if (acc[w].length < unitHeads * headDim) {
                queries[w] = new float[unitHeads * headDim];
                acc[w] = new float[unitHeads * headDim];
            }
            if (scores[w].length < unitHeads * blockSize) {
                scores[w] = new float[unitHeads * blockSize];
            }
            if (maxes[w].length < unitHeads) {
                maxes[w] = new float[unitHeads];
                sums[w] = new float[unitHeads];
            }
        }
        long positions = 0;
        for (int i = 0; i < n; i++) {
            positions += tokenPos.getAtIndex(I32, i) + 1L;
        }
        return 2 * positions * kvRow;
    }

    @Override
    public void run(int worker, int workers) {
        int unitsPerRow = numKvHeads / headsPerUnit;
        for (int unit = worker; unit < n * unitsPerRow; unit += workers) {
            int h0 = (unit % unitsPerRow) * headsPerUnit;
            attend(unit / unitsPerRow, h0, h0 + headsPerUnit, worker);
        }
    }

    /**
     * Query row {@code row} against KV heads {@code h0..h1} (each with its group of query heads),
     * block by block: every head's scores, then every head's softmax step, then every head's
     * accumulation. A head's arithmetic is the same whatever the range, so the bits do not depend
     * on how rows were cut into units.
     */
    private void attend(int row, int h0, int h1, int worker) {
        float[] qs = queries[worker];
        float[] a = acc[worker];
        float[] s = scores[worker];
        float[] max = maxes[worker];
        float[] sum = sums[worker];
        int seq = tokenSeq.getAtIndex(I32, row);
        int pos = tokenPos.getAtIndex(I32, row);
        int heads = (h1 - h0) * group;
        long qOff = ((long) row * numHeads + (long) h0 * group) * headDim;
        Simd.toFloats(DType.F32, q, qOff, heads * headDim, qs, 0);
        Arrays.fill(a, 0, heads * headDim, 0f);
        Arrays.fill(max, 0, heads, Float.NEGATIVE_INFINITY);
        Arrays.fill(sum, 0, heads, 0f);
        for (int b = 0, last = pos / blockSize; b <= last; b++) {
            long blockRow = (long) tables.getAtIndex(I32, (long) seq * maxBlocks + b) * blockSize * kvRow;
            int count = b < last ? blockSize : pos - b * blockSize + 1;
            for (int kvHead = h0; kvHead < h1; kvHead++) {
                long firstRow = blockRow + (long) kvHead * headDim;
                int first = (kvHead - h0) * group;
                int g = 0;
                for (; g + 1 < group; g += 2) {
                    scoresPair(qs, (first + g) * headDim, firstRow, count, s, (first + g) * blockSize);
                }
                if (g < group) {
                    scoresOne(qs, (first + g) * headDim, firstRow, count, s, (first + g) * blockSize);
                }
            }
            for (int h = 0; h < heads; h++) {
                softmaxStep(s, h * blockSize, count, max, sum, h, a, h * headDim);
            }
            for (int kvHead = h0; kvHead < h1; kvHead++) {
                long firstRow = blockRow + (long) kvHead * headDim;
                int first = (kvHead - h0) * group;
                int g = 0;
                for (; g + 1 < group; g += 2) {
                    accumulatePair(s, (first + g) * blockSize, firstRow, count, a, (first + g) * headDim);
                }
                if (g < group) {
                    accumulateOne(s, (first + g) * blockSize, firstRow, count, a, (first + g) * headDim);
                }
            }
        }
        for (int h = 0; h < heads; h++) {
            float inv = 1f / sum[h];
            int c = 0;
            for (; c < headDim - L + 1; c += L) {
                FloatVector.fromArray(F, a, h * headDim + c).mul(inv).intoMemorySegment(out, (qOff + h * headDim + c) * 4,
                        LE);
            }
            for (; c < headDim; c++) {
                out.setAtIndex(F32, qOff + h * headDim + c, a[h * headDim + c] * inv);
            }
        }
    }

    /** Scaled scores of {@code count} consecutive K rows for the two query heads at {@code qs[q0..]}, {@code qs[q0+headDim..]}. */
    private void scoresPair(float[] qs, int q0, long firstRow, int count, float[] s, int s0) {
        if (headDim == 4 * L) {
            scoresPair4(qs, q0, firstRow, count, s, s0);
            return;
        }
        if (headDim == 8 * L) {
            scoresOne8(qs, q0, firstRow, count, s, s0);
            scoresOne8(qs, q0 + headDim, firstRow, count, s, s0 + blockSize);
            return;
        }
        int q1 = q0 + headDim;
        int s1 = s0 + blockSize;
        int dBound = headDim - headDim % L;
        for (int p = 0; p < count; p++) {
            long kRow = firstRow + (long) p * kvRow;
            FloatVector d0 = FloatVector.zero(F);
            FloatVector d1 = FloatVector.zero(F);
            int c = 0;
            for (; c < dBound; c += L) {
                FloatVector kv = FloatVector.fromMemorySegment(F, k, (kRow + c) * 4, LE);
                d0 = FloatVector.fromArray(F, qs, q0 + c).fma(kv, d0);
                d1 = FloatVector.fromArray(F, qs, q1 + c).fma(kv, d1);
            }
            float t0 = d0.reduceLanes(VectorOperators.ADD);
            float t1 = d1.reduceLanes(VectorOperators.ADD);
            for (; c < headDim; c++) {
                float kc = k.getAtIndex(F32, kRow + c);
                t0 += qs[q0 + c] * kc;
                t1 += qs[q1 + c] * kc;
            }
            s[s0 + p] = t0 * scale;
            s[s1 + p] = t1 * scale;
        }
    }

    /**
     * {@link #scoresPair} for heads of exactly four vectors (64 on AVX-512, the {@code small}
     * preset's): both queries stay in eight registers for the whole block, and each K row is four
     * loads feeding two independent multiply-add trees. The general loop reloads the queries for
     * every row (C2 cannot keep them across the stores to {@code s}) and chains its FMAs; this
     * form measured 2x faster with K in L2 (8 against 17 ns per row and head pair). The sums
     * are associated differently from the general loop, well within float rounding.
     */
    private void scoresPair4(float[] qs, int q0, long firstRow, int count, float[] s, int s0) {
        int q1 = q0 + headDim;
        int s1 = s0 + blockSize;
        FloatVector a0 = FloatVector.fromArray(F, qs, q0);
        FloatVector a1 = FloatVector.fromArray(F, qs, q0 + L);
        FloatVector a2 = FloatVector.fromArray(F, qs, q0 + 2 * L);
        FloatVector a3 = FloatVector.fromArray(F, qs, q0 + 3 * L);
        FloatVector b0 = FloatVector.fromArray(F, qs, q1);
        FloatVector b1 = FloatVector.fromArray(F, qs, q1 + L);
        FloatVector b2 = FloatVector.fromArray(F, qs, q1 + 2 * L);
        FloatVector b3 = FloatVector.fromArray(F, qs, q1 + 3 * L);
        MemorySegment keys = k;
        long stride = (long) kvRow * 4;
        long off = firstRow * 4;
        for (int p = 0; p < count; p++, off += stride) {
            FloatVector k0 = FloatVector.fromMemorySegment(F, keys, off, LE);
            FloatVector k1 = FloatVector.fromMemorySegment(F, keys, off + 4L * L, LE);
            FloatVector k2 = FloatVector.fromMemorySegment(F, keys, off + 8L * L, LE);
            FloatVector k3 = FloatVector.fromMemorySegment(F, keys, off + 12L * L, LE);
            FloatVector d0 = a0.mul(k0).add(a1.mul(k1)).add(a2.mul(k2).add(a3.mul(k3)));
            FloatVector d1 = b0.mul(k0).add(b1.mul(k1)).add(b2.mul(k2).add(b3.mul(k3)));
            s[s0 + p] = d0.reduceLanes(VectorOperators.ADD) * scale;
            s[s1 + p] = d1.reduceLanes(VectorOperators.ADD) * scale;
        }
    }

    /**
     * Scores for one head of exactly eight vectors (64 on AVX2, 128 — Mixtral's — on AVX-512):
     * two such queries would take all sixteen AVX2 registers, so heads go one at a time (the
     * block's K rows are in L1 for the second), the query in eight registers and each row's dot
     * product a tree of four independent chains instead of one chain of eight FMAs.
     */
    private void scoresOne8(float[] qs, int q0, long firstRow, int count, float[] s, int s0) {
        FloatVector a0 = FloatVector.fromArray(F, qs, q0);
        FloatVector a1 = FloatVector.fromArray(F, qs, q0 + L);
        FloatVector a2 = FloatVector.fromArray(F, qs, q0 + 2 * L);
        FloatVector a3 = FloatVector.fromArray(F, qs, q0 + 3 * L);
        FloatVector a4 = FloatVector.fromArray(F, qs, q0 + 4 * L);
        FloatVector a5 = FloatVector.fromArray(F, qs, q0 + 5 * L);
        FloatVector a6 = FloatVector.fromArray(F, qs, q0 + 6 * L);
        FloatVector a7 = FloatVector.fromArray(F, qs, q0 + 7 * L);
        MemorySegment keys = k;
        long stride = (long) kvRow * 4;
        long off = firstRow * 4;
        for (int p = 0; p < count; p++, off += stride) {
            FloatVector d0 = a0.mul(FloatVector.fromMemorySegment(F, keys, off, LE));
            FloatVector d1 = a1.mul(FloatVector.fromMemorySegment(F, keys, off + 4L * L, LE));
            FloatVector d2 = a2.mul(FloatVector.fromMemorySegment(F, keys, off + 8L * L, LE));
            FloatVector d3 = a3.mul(FloatVector.fromMemorySegment(F, keys, off + 12L * L, LE));
            d0 = a4.fma(FloatVector.fromMemorySegment(F, keys, off + 16L * L, LE), d0);
            d1 = a5.fma(FloatVector.fromMemorySegment(F, keys, off + 20L * L, LE), d1);
            d2 = a6.fma(FloatVector.fromMemorySegment(F, keys, off + 24L * L, LE), d2);
            d3 = a7.fma(FloatVector.fromMemorySegment(F, keys, off + 28L * L, LE), d3);
            s[s0 + p] = d0.add(d1).add(d2.add(d3)).reduceLanes(VectorOperators.ADD) * scale;
        }
    }

    private void scoresOne(float[] qs, int q0, long firstRow, int count, float[] s, int s0) {
        if (headDim == 8 * L) {
            scoresOne8(qs, q0, firstRow, count, s, s0);
            return;
        }
        int dBound = headDim - headDim % L;
        for (int p = 0; p < count; p++) {
            long kRow = firstRow + (long) p * kvRow;
            FloatVector d0 = FloatVector.zero(F);
            int c = 0;
            for (; c < dBound; c += L) {
                d0 = FloatVector.fromArray(F, qs, q0 + c).fma(FloatVector.fromMemorySegment(F, k, (kRow + c) * 4, LE), d0);
            }
            float t0 = d0.reduceLanes(VectorOperators.ADD);
            for (; c < headDim; c++) {
                t0 += qs[q0 + c] * k.getAtIndex(F32, kRow + c);
            }
            s[s0 + p] = t0 * scale;
        }
    }

    /**
     * Online softmax for head {@code g} over one block: raises the running maximum if the block
     * exceeds it (rescaling that head's accumulator and sum), then turns the block's scores into
     * weights {@code exp(score − max)} and adds them to the running sum.
     */
    private void softmaxStep(float[] s, int s0, int count, float[] max, float[] sum, int g, float[] a, int a0) {
        int bound = count - count % L;
        int p = 0;
        float blockMax = Float.NEGATIVE_INFINITY;
        if (bound > 0) {
            FloatVector m = FloatVector.fromArray(F, s, s0);
            for (p = L; p < bound; p += L) {
                m = m.max(FloatVector.fromArray(F, s, s0 + p));
            }
            blockMax = m.reduceLanes(VectorOperators.MAX);
        }
        for (; p < count; p++) {
            blockMax = Math.max(blockMax, s[s0 + p]);
        }
        float m = max[g];
        if (blockMax > m) {
            if (m != Float.NEGATIVE_INFINITY) {
                float correction = (float) Math.exp(m - blockMax);
                sum[g] *= correction;
                int c = 0;
                for (; c < headDim - L + 1; c += L) {
                    FloatVector.fromArray(F, a, a0 + c).mul(correction).intoArray(a, a0 + c);
                }
                for (; c < headDim; c++) {
                    a[a0 + c] *= correction;
                }
            }
            m = blockMax;
            max[g] = m;
        }
        sum[g] += Simd.expShifted(s, s0, s0 + count, m);
    }

    /** {@code a[head] += Σ_p w[head][p] · V[p]} for two heads, one vector of columns at a time held in registers. */
    private void accumulatePair(float[] s, int s0, long firstRow, int count, float[] a, int a0) {
        if (headDim == 4 * L) {
            accumulatePair4(s, s0, firstRow, count, a, a0);
            return;
        }
        if (headDim == 8 * L) {
            accumulateOne8(s, s0, firstRow, count, a, a0);
            accumulateOne8(s, s0 + blockSize, firstRow, count, a, a0 + headDim);
            return;
        }
        int s1 = s0 + blockSize;
        int a1 = a0 + headDim;
        int c = 0;
        for (; c < headDim - L + 1; c += L) {
            FloatVector x0 = FloatVector.fromArray(F, a, a0 + c);
            FloatVector x1 = FloatVector.fromArray(F, a, a1 + c);
            long off = (firstRow + c) * 4;
            for (int p = 0; p < count; p++, off += (long) kvRow * 4) {
                FloatVector vv = FloatVector.fromMemorySegment(F, v, off, LE);
                x0 = vv.fma(FloatVector.broadcast(F, s[s0 + p]), x0);
                x1 = vv.fma(FloatVector.broadcast(F, s[s1 + p]), x1);
            }
            x0.intoArray(a, a0 + c);
            x1.intoArray(a, a1 + c);
        }
        for (; c < headDim; c++) {
            float x0 = a[a0 + c];
            float x1 = a[a1 + c];
            for (int p = 0; p < count; p++) {
                float vc = v.getAtIndex(F32, firstRow + (long) p * kvRow + c);
                x0 += s[s0 + p] * vc;
                x1 += s[s1 + p] * vc;
            }
            a[a0 + c] = x0;
            a[a1 + c] = x1;
        }
    }

    /**
     * {@link #accumulatePair} for heads of exactly four vectors: all eight accumulator vectors
     * stay in registers and each V row is loaded once for both heads, so the block's FMAs form
     * eight independent chains instead of two (the general loop walks the rows once per vector of
     * columns, each step waiting for the previous FMA). Same operations per element in the same
     * order as the general loop.
     */
    private void accumulatePair4(float[] s, int s0, long firstRow, int count, float[] a, int a0) {
        int s1 = s0 + blockSize;
        int a1 = a0 + headDim;
        FloatVector x0 = FloatVector.fromArray(F, a, a0);
        FloatVector x1 = FloatVector.fromArray(F, a, a0 + L);
        FloatVector x2 = FloatVector.fromArray(F, a, a0 + 2 * L);
        FloatVector x3 = FloatVector.fromArray(F, a, a0 + 3 * L);
        FloatVector y0 = FloatVector.fromArray(F, a, a1);
        FloatVector y1 = FloatVector.fromArray(F, a, a1 + L);
        FloatVector y2 = FloatVector.fromArray(F, a, a1 + 2 * L);
        FloatVector y3 = FloatVector.fromArray(F, a, a1 + 3 * L);
        MemorySegment values = v;
        long stride = (long) kvRow * 4;
        long off = firstRow * 4;
        for (int p = 0; p < count; p++, off += stride) {
            FloatVector w0 = FloatVector.broadcast(F, s[s0 + p]);
            FloatVector w1 = FloatVector.broadcast(F, s[s1 + p]);
            FloatVector v0 = FloatVector.fromMemorySegment(F, values, off, LE);
            FloatVector v1 = FloatVector.fromMemorySegment(F, values, off + 4L * L, LE);
            FloatVector v2 = FloatVector.fromMemorySegment(F, values, off + 8L * L, LE);
            FloatVector v3 = FloatVector.fromMemorySegment(F, values, off + 12L * L, LE);
            x0 = v0.fma(w0, x0);
            x1 = v1.fma(w0, x1);
            x2 = v2.fma(w0, x2);
            x3 = v3.fma(w0, x3);
            y0 = v0.fma(w1, y0);
            y1 = v1.fma(w1, y1);
            y2 = v2.fma(w1, y2);
            y3 = v3.fma(w1, y3);
        }
        x0.intoArray(a, a0);
        x1.intoArray(a, a0 + L);
        x2.intoArray(a, a0 + 2 * L);
        x3.intoArray(a, a0 + 3 * L);
        y0.intoArray(a, a1);
        y1.intoArray(a, a1 + L);
        y2.intoArray(a, a1 + 2 * L);
        y3.intoArray(a, a1 + 3 * L);
    }

    /**
     * {@code a[head] += Σ_p w[p] · V[p]} for one head of exactly eight vectors: the eight
     * accumulator vectors stay in registers across the block (eight independent FMA chains), and
     * each V row is eight loads. Same operations per element in the same order as the general loop.
     */
    private void accumulateOne8(float[] s, int s0, long firstRow, int count, float[] a, int a0) {
        FloatVector x0 = FloatVector.fromArray(F, a, a0);
        FloatVector x1 = FloatVector.fromArray(F, a, a0 + L);
        FloatVector x2 = FloatVector.fromArray(F, a, a0 + 2 * L);
        FloatVector x3 = FloatVector.fromArray(F, a, a0 + 3 * L);
        FloatVector x4 = FloatVector.fromArray(F, a, a0 + 4 * L);
        FloatVector x5 = FloatVector.fromArray(F, a, a0 + 5 * L);
        FloatVector x6 = FloatVector.fromArray(F, a, a0 + 6 * L);
        FloatVector x7 = FloatVector.fromArray(F, a, a0 + 7 * L);
        MemorySegment values = v;
        long stride = (long) kvRow * 4;
        long off = firstRow * 4;
        for (int p = 0; p < count; p++, off += stride) {
            FloatVector w = FloatVector.broadcast(F, s[s0 + p]);
            x0 = FloatVector.fromMemorySegment(F, values, off, LE).fma(w, x0);
            x1 = FloatVector.fromMemorySegment(F, values, off + 4L * L, LE).fma(w, x1);
            x2 = FloatVector.fromMemorySegment(F, values, off + 8L * L, LE).fma(w, x2);
            x3 = FloatVector.fromMemorySegment(F, values, off + 12L * L, LE).fma(w, x3);
            x4 = FloatVector.fromMemorySegment(F, values, off + 16L * L, LE).fma(w, x4);
            x5 = FloatVector.fromMemorySegment(F, values, off + 20L * L, LE).fma(w, x5);
            x6 = FloatVector.fromMemorySegment(F, values, off + 24L * L, LE).fma(w, x6);
            x7 = FloatVector.fromMemorySegment(F, values, off + 28L * L, LE).fma(w, x7);
        }
        x0.intoArray(a, a0);
        x1.intoArray(a, a0 + L);
        x2.intoArray(a, a0 + 2 * L);
        x3.intoArray(a, a0 + 3 * L);
        x4.intoArray(a, a0 + 4 * L);
        x5.intoArray(a, a0 + 5 * L);
        x6.intoArray(a, a0 + 6 * L);
        x7.intoArray(a, a0 + 7 * L);
    }

    private void accumulateOne(float[] s, int s0, long firstRow, int count, float[] a, int a0) {
        if (headDim == 8 * L) {
            accumulateOne8(s, s0, firstRow, count, a, a0);
            return;
        }
        int c = 0;
        for (; c < headDim - L + 1; c += L) {
            FloatVector x0 = FloatVector.fromArray(F, a, a0 + c);
            long off = (firstRow + c) * 4;
            for (int p = 0; p < count; p++, off += (long) kvRow * 4) {
                x0 = FloatVector.fromMemorySegment(F, v, off, LE).fma(FloatVector.broadcast(F, s[s0 + p]), x0);
            }
            x0.intoArray(a, a0 + c);
        }
        for (; c < headDim; c++) {
            float x0 = a[a0 + c];
            for (int p = 0; p < count; p++) {
                x0 += s[s0 + p] * v.getAtIndex(F32, firstRow + (long) p * kvRow + c);
            }
            a[a0 + c] = x0;
        }
    }
}
