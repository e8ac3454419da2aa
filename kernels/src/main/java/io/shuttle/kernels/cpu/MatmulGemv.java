package io.shuttle.kernels.cpu;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static io.shuttle.kernels.cpu.Simd.F32;
import static io.shuttle.kernels.cpu.Simd.L;

/**
 * {@code out[1, m] = x[1, k] · w[m, k]ᵀ} for one token (decode), F32 or BF16 weights.
 *
 * <p>This is a pass over the weight matrix with almost no reuse, so it is bound by memory
 * bandwidth: each worker streams a contiguous run of weight rows exactly once, four rows at a
 * time (four independent FMA chains and one load of x per four weight vectors), converting BF16
 * in registers. The loop is written out once per dtype: a shared loop calling a
 * per-dtype loader through an interface would be megamorphic and box every vector. x (a few
 * KB) stays in L1. Rows are split statically, aligned to 4.
 */
final class MatmulGemv implements WorkerPool.Job {

    private static final int ROWS = 4;

    private MemorySegment x;
    private MemorySegment w;
    private MemorySegment out;
    private DType dtype;
    private int k;
    private int m;

    /** Sets the operands; the caller then runs this job on the pool (or inline). */
    /**
     * F16 is left to {@link MatmulGemm} even at n = 1: its integer-arithmetic conversion inlined
     * four times into this loop measured slower than converting once into the packed tile.
     */
    static boolean supports(DType weightType) {
        return weightType == DType.F32 || weightType == DType.BF16;
    }

    void prepare(Tensor x, Tensor w, Tensor out) {
        this.x = x.data();
        this.w = w.data();
        this.out = out.data();
        this.dtype = w.dtype();
        this.k = (int) x.dim(1);
        this.m = (int) w.dim(0);
    }

    @Override
    public void run(int worker, int workers) {
        int from = Simd.splitPoint(m, worker, workers, ROWS);
        int to = Simd.splitPoint(m, worker + 1, workers, ROWS);
        if (dtype == DType.BF16) {
            rowsBf16(from, to);
        } else {
            rowsF32(from, to);
        }
    }

    private void rowsBf16(int from, int to) {
        long rowBytes = 2L * k;
        int bound = k - k % L;
        int r = from;
        for (; r + ROWS <= to; r += ROWS) {
            long w0 = r * rowBytes, w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
            FloatVector a0 = FloatVector.zero(Simd.F), a1 = a0, a2 = a0, a3 = a0;
            for (int c = 0; c < bound; c += L) {
                FloatVector xv = Simd.loadF32(x, 4L * c);
                long off = 2L * c;
                a0 = Simd.loadBf16(w, w0 + off).fma(xv, a0);
                a1 = Simd.loadBf16(w, w1 + off).fma(xv, a1);
                a2 = Simd.loadBf16(w, w2 + off).fma(xv, a2);
                a3 = Simd.loadBf16(w, w3 + off).fma(xv, a3);
            }
            out.setAtIndex(F32, r, a0.reduceLanes(VectorOperators.ADD) + tail(r, bound));
            out.setAtIndex(F32, r + 1, a1.reduceLanes(VectorOperators.ADD) + tail(r + 1, bound));
            out.setAtIndex(F32, r + 2, a2.reduceLanes(VectorOperators.ADD) + tail(r + 2, bound));
            out.setAtIndex(F32, r + 3, a3.reduceLanes(VectorOperators.ADD) + tail(r + 3, bound));
        }
        for (; r < to; r++) {
            long w0 = r * rowBytes;
            FloatVector a0 = FloatVector.zero(Simd.F);
            for (int c = 0; c < bound; c += L) {
                a0 = Simd.loadBf16(w, w0 + 2L * c).fma(Simd.loadF32(x, 4L * c), a0);
            }
            out.setAtIndex(F32, r, a0.reduceLanes(VectorOperators.ADD) + tail(r, bound));
        }
    }

    private void rowsF32(int from, int to) {
        long rowBytes = 4L * k;
        int bound = k - k % L;
        int r = from;
        for (; r + ROWS <= to; r += ROWS) {
            long w0 = r * rowBytes, w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
            FloatVector a0 = FloatVector.zero(Simd.F), a1 = a0, a2 = a0, a3 = a0;
            for (int c = 0; c < bound; c += L) {
                long off = 4L * c;
                FloatVector xv = Simd.loadF32(x, off);
                a0 = Simd.loadF32(w, w0 + off).fma(xv, a0);
                a1 = Simd.loadF32(w, w1 + off).fma(xv, a1);
                a2 = Simd.loadF32(w, w2 + off).fma(xv, a2);
                a3 = Simd.loadF32(w, w3 + off).fma(xv, a3);
            }
            out.setAtIndex(F32, r, a0.reduceLanes(VectorOperators.ADD) + tail(r, bound));
            out.setAtIndex(F32, r + 1, a1.reduceLanes(VectorOperators.ADD) + tail(r + 1, bound));
            out.setAtIndex(F32, r + 2, a2.reduceLanes(VectorOperators.ADD) + tail(r + 2, bound));
            out.setAtIndex(F32, r + 3, a3.reduceLanes(VectorOperators.ADD) + tail(r + 3, bound));
        }
        for (; r < to; r++) {
            long w0 = r * rowBytes;
            FloatVector a0 = FloatVector.zero(Simd.F);
            for (int c = 0; c < bound; c += L) {
                a0 = Simd.loadF32(w, w0 + 4L * c).fma(Simd.loadF32(x, 4L * c), a0);
            }
            out.setAtIndex(F32, r, a0.reduceLanes(VectorOperators.ADD) + tail(r, bound));
        }
    }

    /** Scalar remainder of row {@code r}: columns {@code from..k-1}. */
    private float tail(int r, int from) {
        float sum = 0;
        long base = (long) r * k;
        for (int c = from; c < k; c++) {
            sum += x.getAtIndex(F32, c) * Simd.getFloat(dtype, w, base + c);
        }
        return sum;
    }
}
