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
 * blocks of 4 run one at a time with the same arithmetic (an output's sum is built in the same
 * order in both), so a row's result does not depend on which batch or micro-batch it came in.
 * k is cut into chunks of {@link #KC_PAIRS} pairs (a group's chunk stays in L2 while every block
 * of x passes over it); later chunks continue the sums from {@code out}, the same float values.
 *
 * <p>Work units are (matrix, group, x-row chunk); x rows are chunked only when there are too few
 * groups to keep every thread busy. Shares are runs of units claimed dynamically by the pool.
 */
final class MatmulPacked implements WorkerPool.Job {
    static final int MR = 4;
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
        int valid = Math.min(GROUP, p.m - group * GROUP);
        VectorMask<Float> m0 = F.indexInRange(0, valid);
        VectorMask<Float> m1 = F.indexInRange(L, valid);
        VectorMask<Float> m2 = F.indexInRange(2 * L, valid);
        VectorMask<Float> m3 = F.indexInRange(3 * L, valid);
        long groupBase = group * p.groupBytes();
        for (int q0 = 0; q0 < p.pairs; q0 += KC_PAIRS) {
            int q1 = Math.min(p.pairs, q0 + KC_PAIRS);
            boolean accumulate = q0 > 0;
            int r = r0;
            for (; r + MR <= r1; r += MR) {
                block4(w, groupBase, q0, q1, p.m, r, group * GROUP, out, accumulate, m0, m1, m2, m3);
            }
            for (; r < r1; r++) {
                block1(w, groupBase, q0, q1, p.m, r, group * GROUP, out, accumulate, m0, m1, m2, m3);
            }
        }
    }

    /**
     * out[r..r+4, c0..c0+GROUP] (+)= x[r..r+4, 2q0..2q1] · group. When k is odd, the last pair's
     * second half is zero padding and its x column does not exist, so that pair uses only k = 2q.
     */
    private void block4(MemorySegment w, long groupBase, int q0, int q1, int m, int r, int c0, MemorySegment out,
                        boolean accumulate, VectorMask<Float> m0, VectorMask<Float> m1, VectorMask<Float> m2,
                        VectorMask<Float> m3) {
        MemorySegment x = this.x;
        long rowStride = 4L * m;
        long o0 = 4L * ((long) r * m + c0);
        long o1 = o0 + rowStride;
        long o2 = o1 + rowStride;
        long o3 = o2 + rowStride;
        FloatVector a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33;
        if (accumulate) {
            a00 = load(out, o0, m0); a01 = load(out, o0 + 4 * L, m1); a02 = load(out, o0 + 8 * L, m2); a03 = load(out, o0 + 12 * L, m3);
            a10 = load(out, o1, m0); a11 = load(out, o1 + 4 * L, m1); a12 = load(out, o1 + 8 * L, m2); a13 = load(out, o1 + 12 * L, m3);
            a20 = load(out, o2, m0); a21 = load(out, o2 + 4 * L, m1); a22 = load(out, o2 + 8 * L, m2); a23 = load(out, o2 + 12 * L, m3);
            a30 = load(out, o3, m0); a31 = load(out, o3 + 4 * L, m1); a32 = load(out, o3 + 8 * L, m2); a33 = load(out, o3 + 12 * L, m3);
        } else {
            a00 = FloatVector.zero(F);
            a01 = a00; a02 = a00; a03 = a00; a10 = a00; a11 = a00; a12 = a00; a13 = a00;
            a20 = a00; a21 = a00; a22 = a00; a23 = a00; a30 = a00; a31 = a00; a32 = a00; a33 = a00;
        }
        long xStride = 4L * k;
        long x0 = r * xStride;
        long x1 = x0 + xStride;
        long x2 = x1 + xStride;
        long x3 = x2 + xStride;
        int full = Math.min(q1, k / 2);
        for (int q = q0; q < full; q++) {
            long wo = groupBase + (long) q * GROUP * 4;
            IntVector i0 = IntVector.fromMemorySegment(I, w, wo, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, w, wo + 4 * L, LE);
            IntVector i2 = IntVector.fromMemorySegment(I, w, wo + 8 * L, LE);
            IntVector i3 = IntVector.fromMemorySegment(I, w, wo + 12 * L, LE);
            FloatVector l0 = i0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector l1 = i1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector l2 = i2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector l3 = i3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector h0 = i0.and(0xFFFF0000).reinterpretAsFloats();
            FloatVector h1 = i1.and(0xFFFF0000).reinterpretAsFloats();
            FloatVector h2 = i2.and(0xFFFF0000).reinterpretAsFloats();
            FloatVector h3 = i3.and(0xFFFF0000).reinterpretAsFloats();
            long kk = 8L * q;
            FloatVector e = FloatVector.broadcast(F, x.get(F32, x0 + kk));
            FloatVector d = FloatVector.broadcast(F, x.get(F32, x0 + kk + 4));
            a00 = h0.fma(d, l0.fma(e, a00)); a01 = h1.fma(d, l1.fma(e, a01));
            a02 = h2.fma(d, l2.fma(e, a02)); a03 = h3.fma(d, l3.fma(e, a03));
            e = FloatVector.broadcast(F, x.get(F32, x1 + kk));
            d = FloatVector.broadcast(F, x.get(F32, x1 + kk + 4));
            a10 = h0.fma(d, l0.fma(e, a10)); a11 = h1.fma(d, l1.fma(e, a11));
            a12 = h2.fma(d, l2.fma(e, a12)); a13 = h3.fma(d, l3.fma(e, a13));
            e = FloatVector.broadcast(F, x.get(F32, x2 + kk));
            d = FloatVector.broadcast(F, x.get(F32, x2 + kk + 4));
            a20 = h0.fma(d, l0.fma(e, a20)); a21 = h1.fma(d, l1.fma(e, a21));
            a22 = h2.fma(d, l2.fma(e, a22)); a23 = h3.fma(d, l3.fma(e, a23));
            e = FloatVector.broadcast(F, x.get(F32, x3 + kk));
            d = FloatVector.broadcast(F, x.get(F32, x3 + kk + 4));
            a30 = h0.fma(d, l0.fma(e, a30)); a31 = h1.fma(d, l1.fma(e, a31));
            a32 = h2.fma(d, l2.fma(e, a32)); a33 = h3.fma(d, l3.fma(e, a33));
        }
        if (full < q1) { // odd k: the last column alone
            long wo = groupBase + (long) full * GROUP * 4;
            FloatVector l0 = IntVector.fromMemorySegment(I, w, wo, LE).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector l1 = IntVector.fromMemorySegment(I, w, wo + 4 * L, LE).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector l2 = IntVector.fromMemorySegment(I, w, wo + 8 * L, LE).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector l3 = IntVector.fromMemorySegment(I, w, wo + 12 * L, LE).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            long kk = 8L * full;
            FloatVector e = FloatVector.broadcast(F, x.get(F32, x0 + kk));
            a00 = l0.fma(e, a00); a01 = l1.fma(e, a01); a02 = l2.fma(e, a02); a03 = l3.fma(e, a03);
            e = FloatVector.broadcast(F, x.get(F32, x1 + kk));
            a10 = l0.fma(e, a10); a11 = l1.fma(e, a11); a12 = l2.fma(e, a12); a13 = l3.fma(e, a13);
            e = FloatVector.broadcast(F, x.get(F32, x2 + kk));
            a20 = l0.fma(e, a20); a21 = l1.fma(e, a21); a22 = l2.fma(e, a22); a23 = l3.fma(e, a23);
            e = FloatVector.broadcast(F, x.get(F32, x3 + kk));
            a30 = l0.fma(e, a30); a31 = l1.fma(e, a31); a32 = l2.fma(e, a32); a33 = l3.fma(e, a33);
        }
        // Stores here, where the accumulators live: a vector passed to a call C2 does not inline is boxed.
        a00.intoMemorySegment(out, o0, LE, m0); a01.intoMemorySegment(out, o0 + 4 * L, LE, m1);
        a02.intoMemorySegment(out, o0 + 8 * L, LE, m2); a03.intoMemorySegment(out, o0 + 12 * L, LE, m3);
        a10.intoMemorySegment(out, o1, LE, m0); a11.intoMemorySegment(out, o1 + 4 * L, LE, m1);
        a12.intoMemorySegment(out, o1 + 8 * L, LE, m2); a13.intoMemorySegment(out, o1 + 12 * L, LE, m3);
        a20.intoMemorySegment(out, o2, LE, m0); a21.intoMemorySegment(out, o2 + 4 * L, LE, m1);
        a22.intoMemorySegment(out, o2 + 8 * L, LE, m2); a23.intoMemorySegment(out, o2 + 12 * L, LE, m3);
        a30.intoMemorySegment(out, o3, LE, m0); a31.intoMemorySegment(out, o3 + 4 * L, LE, m1);
        a32.intoMemorySegment(out, o3 + 8 * L, LE, m2); a33.intoMemorySegment(out, o3 + 12 * L, LE, m3);
    }

    /** {@link #block4} for one row of x: the same operations in the same order, per output. */
    private void block1(MemorySegment w, long groupBase, int q0, int q1, int m, int r, int c0, MemorySegment out,
                        boolean accumulate, VectorMask<Float> m0, VectorMask<Float> m1, VectorMask<Float> m2,
                        VectorMask<Float> m3) {
        MemorySegment x = this.x;
        long o0 = 4L * ((long) r * m + c0);
        FloatVector a0, a1, a2, a3;
        if (accumulate) {
            a0 = load(out, o0, m0); a1 = load(out, o0 + 4 * L, m1); a2 = load(out, o0 + 8 * L, m2); a3 = load(out, o0 + 12 * L, m3);
        } else {
            a0 = FloatVector.zero(F);
            a1 = a0; a2 = a0; a3 = a0;
        }
        long x0 = r * 4L * k;
        int full = Math.min(q1, k / 2);
        for (int q = q0; q < full; q++) {
            long wo = groupBase + (long) q * GROUP * 4;
            IntVector i0 = IntVector.fromMemorySegment(I, w, wo, LE);
            IntVector i1 = IntVector.fromMemorySegment(I, w, wo + 4 * L, LE);
            IntVector i2 = IntVector.fromMemorySegment(I, w, wo + 8 * L, LE);
            IntVector i3 = IntVector.fromMemorySegment(I, w, wo + 12 * L, LE);
            long kk = 8L * q;
            FloatVector e = FloatVector.broadcast(F, x.get(F32, x0 + kk));
            FloatVector d = FloatVector.broadcast(F, x.get(F32, x0 + kk + 4));
            a0 = i0.and(0xFFFF0000).reinterpretAsFloats().fma(d, i0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(e, a0));
            a1 = i1.and(0xFFFF0000).reinterpretAsFloats().fma(d, i1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(e, a1));
            a2 = i2.and(0xFFFF0000).reinterpretAsFloats().fma(d, i2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(e, a2));
            a3 = i3.and(0xFFFF0000).reinterpretAsFloats().fma(d, i3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(e, a3));
        }
        if (full < q1) {
            long wo = groupBase + (long) full * GROUP * 4;
            FloatVector e = FloatVector.broadcast(F, x.get(F32, x0 + 8L * full));
            a0 = IntVector.fromMemorySegment(I, w, wo, LE).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(e, a0);
            a1 = IntVector.fromMemorySegment(I, w, wo + 4 * L, LE).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(e, a1);
            a2 = IntVector.fromMemorySegment(I, w, wo + 8 * L, LE).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(e, a2);
            a3 = IntVector.fromMemorySegment(I, w, wo + 12 * L, LE).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(e, a3);
        }
        a0.intoMemorySegment(out, o0, LE, m0);
        a1.intoMemorySegment(out, o0 + 4 * L, LE, m1);
        a2.intoMemorySegment(out, o0 + 8 * L, LE, m2);
        a3.intoMemorySegment(out, o0 + 12 * L, LE, m3);
    }

    private static FloatVector load(MemorySegment s, long offset, VectorMask<Float> mask) {
        return FloatVector.fromMemorySegment(F, s, offset, LE, mask);
    }
}
