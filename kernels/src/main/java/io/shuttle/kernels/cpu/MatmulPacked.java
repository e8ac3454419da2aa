package io.shuttle.kernels.cpu;

import io.shuttle.kernels.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static io.shuttle.kernels.cpu.PackedBf16.GROUP;
import static io.shuttle.kernels.cpu.Simd.F;
import static io.shuttle.kernels.cpu.Simd.F32;
import static io.shuttle.kernels.cpu.Simd.I;
import static io.shuttle.kernels.cpu.Simd.L;
import static io.shuttle.kernels.cpu.Simd.LE;

/**
 * {@code out_j = x · w_jᵀ} for weights in the {@link PackedBf16} layout, one or several matrices
 * of the same x per call (Q/K/V, gate/up), any number of rows.
 *
 * <p>The micro-kernel holds 4 rows of x × one group (4 panels of L outputs) in 16 vector
 * accumulators. Per k pair it loads 4 weight vectors, widens each into the k and k+1 halves (one
 * shift, one and), broadcasts 8 x values and issues 32 FMAs; nothing is reduced across lanes, so
 * a row of x costs the same whether it comes alone or with hundreds. Rows left over after the
 * blocks of 4 run two or one at a time with the same arithmetic (an output's sum is built in the same
 * order in both), so a row's result does not depend on which batch or micro-batch it came in.
 * A last group with at most two panels of outputs (an intermediate size of 480 is 7½ groups) runs
 * two-panel copies of the same kernels, which skip the padding panels' loads and FMAs.
 * k is cut into chunks of {@link #KC_PAIRS} pairs (a group's chunk stays in L2 while every block
 * of x passes over it); each chunk's sums are added to what the earlier chunks left in {@code out}.
 *
 * <p>Work units are (matrix, group, x-row chunk); x rows are chunked only when there are too few
 * groups to keep every thread busy. Shares are runs of units claimed dynamically by the pool.
 */
final class MatmulPacked implements WorkerPool.Job {
    static final int MR = 4;
    /** Outputs of two panels: a group with no more valid outputs runs the two-panel kernels. */
    static final int HALF = 2 * L;
    /** k pairs per chunk: 4096 columns, a 512 KB slice of a group at L = 16. */
    static final int KC_PAIRS = 2048;

    private MemorySegment x;
    private int n;
    private int k;
    private int count;
    private MemorySegment[] ws = new MemorySegment[4];
    private PackedBf16[] packs = new PackedBf16[4];
    private MemorySegment[] outs = new MemorySegment[4];
    /** firstUnit[j] = units of the matrices before j; firstUnit[count] = all units. */
    private int[] firstUnit = new int[5];
    private int rowChunks;

    /** Prepares {@code outs[j] = x · ws[j]ᵀ} (every w packed by {@link PackedBf16}). */
    void prepare(Tensor xt, Tensor[] w, Tensor[] out, int workers) {
        this.x = xt.data();
        this.n = (int) xt.dim(0);
        this.k = (int) xt.dim(1);
        this.count = w.length;
        if (ws.length < count) {
            ws = new MemorySegment[count];
            packs = new PackedBf16[count];
            outs = new MemorySegment[count];
            firstUnit = new int[count + 1];
        }
        int groups = 0;
        for (int j = 0; j < count; j++) {
            ws[j] = w[j].data();
            packs[j] = (PackedBf16) w[j].packing();
            outs[j] = out[j].data();
            groups += packs[j].groups;
        }
        int xBlocks = (n + MR - 1) / MR;
        this.rowChunks = groups >= 4 * workers ? 1 : Math.clamp((4L * workers + groups - 1) / groups, 1, xBlocks);
        firstUnit[0] = 0;
        for (int j = 0; j < count; j++) {
            firstUnit[j + 1] = firstUnit[j] + packs[j].groups * rowChunks;
        }
    }

    /** Shares to hand out: one unit each, up to the pool's limit. */
    int shares() {
        return Math.clamp(firstUnit[count], 1, WorkerPool.MAX_SHARES);
    }

    @Override
    public void run(int share, int shares) {
        int total = firstUnit[count];
        int from = Simd.splitPoint(total, share, shares, 1);
        int to = Simd.splitPoint(total, share + 1, shares, 1);
        int xBlocks = (n + MR - 1) / MR;
        int j = 0;
        for (int u = from; u < to; u++) {
            while (u >= firstUnit[j + 1]) {
                j++;
            }
            int local = u - firstUnit[j];
            int group = local / rowChunks;
            int chunk = local % rowChunks;
            int r0 = Math.min(n, Simd.splitPoint(xBlocks, chunk, rowChunks, 1) * MR);
            int r1 = Math.min(n, Simd.splitPoint(xBlocks, chunk + 1, rowChunks, 1) * MR);
            unit(ws[j], packs[j], outs[j], group, r0, r1);
        }
    }

    /** Rows {@code r0..r1} of x against one group of one matrix, k chunk by k chunk. */
    private void unit(MemorySegment w, PackedBf16 p, MemorySegment out, int group, int r0, int r1) {
        float[] tile = TILE.get();
        int valid = Math.min(GROUP, p.m - group * GROUP);
        long groupBase = group * p.groupBytes();
        int c0 = group * GROUP;
        // A last group with at most two panels of real outputs (480 = 7 groups and a half) runs
        // the two-panel kernels: the full ones would spend half their FMAs on zero padding.
        boolean half = valid <= HALF;
        int fullPairs = k / 2;
        for (int q0 = 0; q0 < fullPairs; q0 += KC_PAIRS) {
            int q1 = Math.min(fullPairs, q0 + KC_PAIRS);
            boolean accumulate = q0 > 0;
            int r = r0;
            for (; r + MR <= r1; r += MR) {
                if (half) {
                    block4Half(w, groupBase, q0, q1, r, tile);
                } else {
                    block4(w, groupBase, q0, q1, r, tile);
                }
                merge(tile, MR, out, p.m, r, c0, valid, accumulate);
            }
            if (r + 2 <= r1) {
                if (half) {
                    block2Half(w, groupBase, q0, q1, r, tile);
                } else {
                    block2(w, groupBase, q0, q1, r, tile);
                }
                merge(tile, 2, out, p.m, r, c0, valid, accumulate);
                r += 2;
            }
            if (r < r1) {
                if (half) {
                    block1Half(w, groupBase, q0, q1, r, tile);
                } else {
                    block1(w, groupBase, q0, q1, r, tile);
                }
                merge(tile, 1, out, p.m, r, c0, valid, accumulate);
            }
        }
        if (k % 2 == 1) {
            VectorMask<Float> m0 = F.indexInRange(0, valid);
            VectorMask<Float> m1 = F.indexInRange(L, valid);
            VectorMask<Float> m2 = F.indexInRange(2 * L, valid);
            VectorMask<Float> m3 = F.indexInRange(3 * L, valid);
            VectorMask<Float> none = F.maskAll(false);
            boolean first = fullPairs == 0; // k = 1: nothing to continue from
            for (int r = r0; r < r1; r++) {
                lastColumn(w, groupBase + (long) fullPairs * GROUP * 4, p.m, r, c0, out,
                        first ? none : m0, first ? none : m1, first ? none : m2, first ? none : m3, m0, m1, m2, m3);
            }
        }
    }

    /** Per-thread result tile of one block: 4 rows × one group. */
    private static final ThreadLocal<float[]> TILE = ThreadLocal.withInitial(() -> new float[MR * GROUP]);

    /**
     * tile[0..4][0..GROUP] = x[r..r+4, 2q0..2q1] · group. One loop, no masks, no branches: C1
     * gives up on a bigger method ("out of virtual registers"), and until C2 has compiled it the
     * interpreter would run every vector operation as an object.
     */
    private void block4(MemorySegment w, long groupBase, int q0, int q1, int r, float[] tile) {
        MemorySegment x = this.x;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        long xStride = 4L * k;
        long x0 = r * xStride;
        long x1 = x0 + xStride;
        long x2 = x1 + xStride;
        long x3 = x2 + xStride;
        for (int q = q0; q < q1; q++) {
            long wo = groupBase + (long) q * GROUP * 4;
            IntVector i0 = IntVector.fromMemorySegment(I, w, wo, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, w, wo + 4 * L, LE);
            IntVector i2 = IntVector.fromMemorySegment(I, w, wo + 8 * L, LE);
            IntVector i3 = IntVector.fromMemorySegment(I, w, wo + 12 * L, LE);
            FloatVector e0 = i0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector e1 = i1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector e2 = i2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector e3 = i3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector d0 = i0.and(0xFFFF0000).reinterpretAsFloats();
            FloatVector d1 = i1.and(0xFFFF0000).reinterpretAsFloats();
            FloatVector d2 = i2.and(0xFFFF0000).reinterpretAsFloats();
            FloatVector d3 = i3.and(0xFFFF0000).reinterpretAsFloats();
            long kk = 8L * q;
            FloatVector xe = FloatVector.broadcast(F, x.get(F32, x0 + kk));
            FloatVector xd = FloatVector.broadcast(F, x.get(F32, x0 + kk + 4));
            a00 = d0.fma(xd, e0.fma(xe, a00)); a01 = d1.fma(xd, e1.fma(xe, a01));
            a02 = d2.fma(xd, e2.fma(xe, a02)); a03 = d3.fma(xd, e3.fma(xe, a03));
            xe = FloatVector.broadcast(F, x.get(F32, x1 + kk));
            xd = FloatVector.broadcast(F, x.get(F32, x1 + kk + 4));
            a10 = d0.fma(xd, e0.fma(xe, a10)); a11 = d1.fma(xd, e1.fma(xe, a11));
            a12 = d2.fma(xd, e2.fma(xe, a12)); a13 = d3.fma(xd, e3.fma(xe, a13));
            xe = FloatVector.broadcast(F, x.get(F32, x2 + kk));
            xd = FloatVector.broadcast(F, x.get(F32, x2 + kk + 4));
            a20 = d0.fma(xd, e0.fma(xe, a20)); a21 = d1.fma(xd, e1.fma(xe, a21));
            a22 = d2.fma(xd, e2.fma(xe, a22)); a23 = d3.fma(xd, e3.fma(xe, a23));
            xe = FloatVector.broadcast(F, x.get(F32, x3 + kk));
            xd = FloatVector.broadcast(F, x.get(F32, x3 + kk + 4));
            a30 = d0.fma(xd, e0.fma(xe, a30)); a31 = d1.fma(xd, e1.fma(xe, a31));
            a32 = d2.fma(xd, e2.fma(xe, a32)); a33 = d3.fma(xd, e3.fma(xe, a33));
        }
        // Stored here, where the accumulators live: a vector passed to a call C2 does not inline is boxed.
        a00.intoArray(tile, 0); a01.intoArray(tile, L); a02.intoArray(tile, 2 * L); a03.intoArray(tile, 3 * L);
        a10.intoArray(tile, GROUP); a11.intoArray(tile, GROUP + L); a12.intoArray(tile, GROUP + 2 * L); a13.intoArray(tile, GROUP + 3 * L);
        a20.intoArray(tile, 2 * GROUP); a21.intoArray(tile, 2 * GROUP + L); a22.intoArray(tile, 2 * GROUP + 2 * L); a23.intoArray(tile, 2 * GROUP + 3 * L);
        a30.intoArray(tile, 3 * GROUP); a31.intoArray(tile, 3 * GROUP + L); a32.intoArray(tile, 3 * GROUP + 2 * L); a33.intoArray(tile, 3 * GROUP + 3 * L);
    }

    /**
     * {@link #block4} for two rows of x (tile rows 0 and 1): the experts' row counts are rarely
     * multiples of 4, and a leftover row alone re-reads the whole group for 8 FMAs per k pair.
     */
    private void block2(MemorySegment w, long groupBase, int q0, int q1, int r, float[] tile) {
        MemorySegment x = this.x;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        long x0 = r * 4L * k;
        long x1 = x0 + 4L * k;
        for (int q = q0; q < q1; q++) {
            long wo = groupBase + (long) q * GROUP * 4;
            IntVector i0 = IntVector.fromMemorySegment(I, w, wo, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, w, wo + 4 * L, LE);
            IntVector i2 = IntVector.fromMemorySegment(I, w, wo + 8 * L, LE);
            IntVector i3 = IntVector.fromMemorySegment(I, w, wo + 12 * L, LE);
            FloatVector e0 = i0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector e1 = i1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector e2 = i2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector e3 = i3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector d0 = i0.and(0xFFFF0000).reinterpretAsFloats();
            FloatVector d1 = i1.and(0xFFFF0000).reinterpretAsFloats();
            FloatVector d2 = i2.and(0xFFFF0000).reinterpretAsFloats();
            FloatVector d3 = i3.and(0xFFFF0000).reinterpretAsFloats();
            long kk = 8L * q;
            FloatVector xe = FloatVector.broadcast(F, x.get(F32, x0 + kk));
            FloatVector xd = FloatVector.broadcast(F, x.get(F32, x0 + kk + 4));
            a00 = d0.fma(xd, e0.fma(xe, a00)); a01 = d1.fma(xd, e1.fma(xe, a01));
            a02 = d2.fma(xd, e2.fma(xe, a02)); a03 = d3.fma(xd, e3.fma(xe, a03));
            xe = FloatVector.broadcast(F, x.get(F32, x1 + kk));
            xd = FloatVector.broadcast(F, x.get(F32, x1 + kk + 4));
            a10 = d0.fma(xd, e0.fma(xe, a10)); a11 = d1.fma(xd, e1.fma(xe, a11));
            a12 = d2.fma(xd, e2.fma(xe, a12)); a13 = d3.fma(xd, e3.fma(xe, a13));
        }
        a00.intoArray(tile, 0); a01.intoArray(tile, L); a02.intoArray(tile, 2 * L); a03.intoArray(tile, 3 * L);
        a10.intoArray(tile, GROUP); a11.intoArray(tile, GROUP + L); a12.intoArray(tile, GROUP + 2 * L); a13.intoArray(tile, GROUP + 3 * L);
    }

    /** {@link #block4} for one row of x (tile row 0): the same operations in the same order, per output. */
    private void block1(MemorySegment w, long groupBase, int q0, int q1, int r, float[] tile) {
        MemorySegment x = this.x;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        long x0 = r * 4L * k;
        for (int q = q0; q < q1; q++) {
            long wo = groupBase + (long) q * GROUP * 4;
            IntVector i0 = IntVector.fromMemorySegment(I, w, wo, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, w, wo + 4 * L, LE);
            IntVector i2 = IntVector.fromMemorySegment(I, w, wo + 8 * L, LE);
            IntVector i3 = IntVector.fromMemorySegment(I, w, wo + 12 * L, LE);
            long kk = 8L * q;
            FloatVector xe = FloatVector.broadcast(F, x.get(F32, x0 + kk));
            FloatVector xd = FloatVector.broadcast(F, x.get(F32, x0 + kk + 4));
            a0 = i0.and(0xFFFF0000).reinterpretAsFloats().fma(xd, i0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, a0));
            a1 = i1.and(0xFFFF0000).reinterpretAsFloats().fma(xd, i1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, a1));
            a2 = i2.and(0xFFFF0000).reinterpretAsFloats().fma(xd, i2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, a2));
            a3 = i3.and(0xFFFF0000).reinterpretAsFloats().fma(xd, i3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, a3));
        }
        a0.intoArray(tile, 0);
        a1.intoArray(tile, L);
        a2.intoArray(tile, 2 * L);
        a3.intoArray(tile, 3 * L);
    }

    /**
     * {@link #block4} over the group's first two panels only (tile columns 0..2L): for a last
     * group whose outputs beyond 2L are padding. Each output's sum is built by the same FMAs in
     * the same order as in {@link #block4}, so the bits are the same.
     */
    private void block4Half(MemorySegment w, long groupBase, int q0, int q1, int r, float[] tile) {
        MemorySegment x = this.x;
        FloatVector a00 = FloatVector.zero(F), a01 = a00;
        FloatVector a10 = a00, a11 = a00;
        FloatVector a20 = a00, a21 = a00;
        FloatVector a30 = a00, a31 = a00;
        long xStride = 4L * k;
        long x0 = r * xStride;
        long x1 = x0 + xStride;
        long x2 = x1 + xStride;
        long x3 = x2 + xStride;
        for (int q = q0; q < q1; q++) {
            long wo = groupBase + (long) q * GROUP * 4;
            IntVector i0 = IntVector.fromMemorySegment(I, w, wo, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, w, wo + 4 * L, LE);
            FloatVector e0 = i0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector e1 = i1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector d0 = i0.and(0xFFFF0000).reinterpretAsFloats();
            FloatVector d1 = i1.and(0xFFFF0000).reinterpretAsFloats();
            long kk = 8L * q;
            FloatVector xe = FloatVector.broadcast(F, x.get(F32, x0 + kk));
            FloatVector xd = FloatVector.broadcast(F, x.get(F32, x0 + kk + 4));
            a00 = d0.fma(xd, e0.fma(xe, a00)); a01 = d1.fma(xd, e1.fma(xe, a01));
            xe = FloatVector.broadcast(F, x.get(F32, x1 + kk));
            xd = FloatVector.broadcast(F, x.get(F32, x1 + kk + 4));
            a10 = d0.fma(xd, e0.fma(xe, a10)); a11 = d1.fma(xd, e1.fma(xe, a11));
            xe = FloatVector.broadcast(F, x.get(F32, x2 + kk));
            xd = FloatVector.broadcast(F, x.get(F32, x2 + kk + 4));
            a20 = d0.fma(xd, e0.fma(xe, a20)); a21 = d1.fma(xd, e1.fma(xe, a21));
            xe = FloatVector.broadcast(F, x.get(F32, x3 + kk));
            xd = FloatVector.broadcast(F, x.get(F32, x3 + kk + 4));
            a30 = d0.fma(xd, e0.fma(xe, a30)); a31 = d1.fma(xd, e1.fma(xe, a31));
        }
        a00.intoArray(tile, 0); a01.intoArray(tile, L);
        a10.intoArray(tile, GROUP); a11.intoArray(tile, GROUP + L);
        a20.intoArray(tile, 2 * GROUP); a21.intoArray(tile, 2 * GROUP + L);
        a30.intoArray(tile, 3 * GROUP); a31.intoArray(tile, 3 * GROUP + L);
    }

    /** {@link #block2} over the group's first two panels ({@link #block4Half}). */
    private void block2Half(MemorySegment w, long groupBase, int q0, int q1, int r, float[] tile) {
        MemorySegment x = this.x;
        FloatVector a00 = FloatVector.zero(F), a01 = a00;
        FloatVector a10 = a00, a11 = a00;
        long x0 = r * 4L * k;
        long x1 = x0 + 4L * k;
        for (int q = q0; q < q1; q++) {
            long wo = groupBase + (long) q * GROUP * 4;
            IntVector i0 = IntVector.fromMemorySegment(I, w, wo, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, w, wo + 4 * L, LE);
            FloatVector e0 = i0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector e1 = i1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector d0 = i0.and(0xFFFF0000).reinterpretAsFloats();
            FloatVector d1 = i1.and(0xFFFF0000).reinterpretAsFloats();
            long kk = 8L * q;
            FloatVector xe = FloatVector.broadcast(F, x.get(F32, x0 + kk));
            FloatVector xd = FloatVector.broadcast(F, x.get(F32, x0 + kk + 4));
            a00 = d0.fma(xd, e0.fma(xe, a00)); a01 = d1.fma(xd, e1.fma(xe, a01));
            xe = FloatVector.broadcast(F, x.get(F32, x1 + kk));
            xd = FloatVector.broadcast(F, x.get(F32, x1 + kk + 4));
            a10 = d0.fma(xd, e0.fma(xe, a10)); a11 = d1.fma(xd, e1.fma(xe, a11));
        }
        a00.intoArray(tile, 0); a01.intoArray(tile, L);
        a10.intoArray(tile, GROUP); a11.intoArray(tile, GROUP + L);
    }

    /** {@link #block1} over the group's first two panels ({@link #block4Half}). */
    private void block1Half(MemorySegment w, long groupBase, int q0, int q1, int r, float[] tile) {
        MemorySegment x = this.x;
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        long x0 = r * 4L * k;
        for (int q = q0; q < q1; q++) {
            long wo = groupBase + (long) q * GROUP * 4;
            IntVector i0 = IntVector.fromMemorySegment(I, w, wo, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, w, wo + 4 * L, LE);
            long kk = 8L * q;
            FloatVector xe = FloatVector.broadcast(F, x.get(F32, x0 + kk));
            FloatVector xd = FloatVector.broadcast(F, x.get(F32, x0 + kk + 4));
            a0 = i0.and(0xFFFF0000).reinterpretAsFloats().fma(xd, i0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, a0));
            a1 = i1.and(0xFFFF0000).reinterpretAsFloats().fma(xd, i1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, a1));
        }
        a0.intoArray(tile, 0);
        a1.intoArray(tile, L);
    }

    /**
     * Writes the tile's first {@code rows} rows to out[r.., c0..c0+valid], or adds them to what
     * an earlier k chunk left there (blocked GEMMs sum k chunks the same way).
     */
    private static void merge(float[] tile, int rows, MemorySegment out, int m, int r, int c0, int valid,
                              boolean accumulate) {
        for (int i = 0; i < rows; i++) {
            long o = 4L * ((long) (r + i) * m + c0);
            for (int c = 0; c < valid; c += L) {
                VectorMask<Float> mask = F.indexInRange(c, valid);
                FloatVector v = FloatVector.fromArray(F, tile, i * GROUP + c);
                if (accumulate) {
                    v = v.add(FloatVector.fromMemorySegment(F, out, o + 4L * c, LE, mask));
                }
                v.intoMemorySegment(out, o + 4L * c, LE, mask);
            }
        }
    }

    /**
     * The last column of an odd k for row r: its pair's second half is zero padding and has no x
     * column, so only k − 1 contributes; the sum continues from {@code out} (the same float a
     * register would hold), so this equals doing it inside the block.
     */
    private void lastColumn(MemorySegment w, long wo, int m, int r, int c0, MemorySegment out,
                            VectorMask<Float> l0, VectorMask<Float> l1, VectorMask<Float> l2, VectorMask<Float> l3,
                            VectorMask<Float> m0, VectorMask<Float> m1, VectorMask<Float> m2, VectorMask<Float> m3) {
        long o0 = 4L * ((long) r * m + c0);
        FloatVector xe = FloatVector.broadcast(F, x.get(F32, 4L * ((long) r * k + k - 1)));
        IntVector i0 = IntVector.fromMemorySegment(I, w, wo, LE);
        IntVector i1 = IntVector.fromMemorySegment(I, w, wo + 4 * L, LE);
        IntVector i2 = IntVector.fromMemorySegment(I, w, wo + 8 * L, LE);
        IntVector i3 = IntVector.fromMemorySegment(I, w, wo + 12 * L, LE);
        i0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, load(out, o0, l0)).intoMemorySegment(out, o0, LE, m0);
        i1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, load(out, o0 + 4 * L, l1)).intoMemorySegment(out, o0 + 4 * L, LE, m1);
        i2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, load(out, o0 + 8 * L, l2)).intoMemorySegment(out, o0 + 8 * L, LE, m2);
        i3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(xe, load(out, o0 + 12 * L, l3)).intoMemorySegment(out, o0 + 12 * L, LE, m3);
    }

    private static FloatVector load(MemorySegment s, long offset, VectorMask<Float> mask) {
        return FloatVector.fromMemorySegment(F, s, offset, LE, mask);
    }
}
