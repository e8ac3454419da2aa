package io.shuttle.kernels.cpu;

import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static io.shuttle.kernels.cpu.Simd.F32;
import static io.shuttle.kernels.cpu.Simd.I32;
import static io.shuttle.kernels.cpu.Simd.L;

/**
 * The attention kernel as it was before the GQA-grouped rewrite (kept, test-only, so that
 * {@link AttentionPerfTest} measures old and new side by side in one JVM on the same machine load).
 *
 * <p>Original description:
 * Causal attention of each query row over its sequence's paged K/V cache, grouped-query heads.
 *
 * <p>One unit of work is (query row, query head). A unit walks its sequence one cache block at
 * a time (slots within a block are contiguous): scores of the block's positions go to scratch,
 * are exponentiated together as one vector op against the running maximum, and the V rows are
 * accumulated — the online ("flash") softmax, which rescales the accumulator only when a block
 * raises the maximum. Units are dealt round-robin to workers so that prefill rows (whose
 * lengths grow with the row) spread evenly. Scratch is per worker and grows only.
 */
final class PagedAttentionBaseline implements WorkerPool.Job {

    private final float[][] scores;
    private final float[][] acc;

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
    private int group;
    private int headDim;
    private int kvRow;
    private float scale;

    PagedAttentionBaseline(int workers) {
        scores = new float[workers][0];
        acc = new float[workers][0];
    }

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
        this.group = numHeads / numKvHeads;
        this.headDim = headDim;
        this.kvRow = numKvHeads * headDim;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
        for (int w = 0; w < scores.length; w++) {
            if (scores[w].length < blockSize) {
                scores[w] = new float[blockSize];
            }
            if (acc[w].length < headDim) {
                acc[w] = new float[headDim];
            }
        }
        long positions = 0;
        for (int i = 0; i < n; i++) {
            positions += tokenPos.getAtIndex(I32, i) + 1L;
        }
        return positions * numHeads * headDim;
    }

    @Override
    public void run(int worker, int workers) {
        float[] s = scores[worker];
        float[] a = acc[worker];
        for (int unit = worker; unit < n * numHeads; unit += workers) {
            attend(unit / numHeads, unit % numHeads, s, a);
        }
    }

    private void attend(int row, int head, float[] s, float[] a) {
        int seq = tokenSeq.getAtIndex(I32, row);
        int pos = tokenPos.getAtIndex(I32, row);
        long qOff = ((long) row * numHeads + head) * headDim;
        long kvOff = (long) (head / group) * headDim;
        int dBound = headDim - headDim % L;
        java.util.Arrays.fill(a, 0, headDim, 0f);
        float max = Float.NEGATIVE_INFINITY;
        float sum = 0;
        for (int b = 0, last = pos / blockSize; b <= last; b++) {
            long firstSlot = (long) tables.getAtIndex(I32, (long) seq * maxBlocks + b) * blockSize;
            int count = b < last ? blockSize : pos - b * blockSize + 1;
            float blockMax = Float.NEGATIVE_INFINITY;
            for (int p = 0; p < count; p++) {
                s[p] = dot(qOff, (firstSlot + p) * kvRow + kvOff, dBound) * scale;
                blockMax = Math.max(blockMax, s[p]);
            }
            if (blockMax > max) {
                float correction = max == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(max - blockMax);
                sum *= correction;
                for (int c = 0; c < headDim; c++) {
                    a[c] *= correction;
                }
                max = blockMax;
            }
            sum += exp(s, count, max);
            for (int p = 0; p < count; p++) {
                long vBase = (firstSlot + p) * kvRow + kvOff;
                FloatVector w = FloatVector.broadcast(Simd.F, s[p]);
                int c = 0;
                for (; c < dBound; c += L) {
                    Simd.loadF32(v, (vBase + c) * 4).fma(w, FloatVector.fromArray(Simd.F, a, c)).intoArray(a, c);
                }
                for (; c < headDim; c++) {
                    a[c] += s[p] * v.getAtIndex(F32, vBase + c);
                }
            }
        }
        float inv = 1f / sum;
        for (int c = 0; c < headDim; c++) {
            out.setAtIndex(F32, qOff + c, a[c] * inv);
        }
    }

    private float dot(long qOff, long kOff, int dBound) {
        FloatVector accv = FloatVector.zero(Simd.F);
        int c = 0;
        for (; c < dBound; c += L) {
            accv = Simd.loadF32(q, (qOff + c) * 4).fma(Simd.loadF32(k, (kOff + c) * 4), accv);
        }
        float d = accv.reduceLanes(VectorOperators.ADD);
        for (; c < headDim; c++) {
            d += q.getAtIndex(F32, qOff + c) * k.getAtIndex(F32, kOff + c);
        }
        return d;
    }

    /** s[p] ← exp(s[p] − max) for p < count; returns their sum. */
    private static float exp(float[] s, int count, float max) {
        int bound = count - count % L;
        FloatVector total = FloatVector.zero(Simd.F);
        int p = 0;
        for (; p < bound; p += L) {
            FloatVector e = FloatVector.fromArray(Simd.F, s, p).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(s, p);
            total = total.add(e);
        }
        float sum = total.reduceLanes(VectorOperators.ADD);
        for (; p < count; p++) {
            s[p] = (float) Math.exp(s[p] - max);
            sum += s[p];
        }
        return sum;
    }
}
