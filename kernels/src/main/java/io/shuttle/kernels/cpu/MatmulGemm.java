package io.shuttle.kernels.cpu;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static io.shuttle.kernels.cpu.Simd.F32;
import static io.shuttle.kernels.cpu.Simd.L;
import static jdk.incubator.vector.VectorOperators.ADD;

/**
 * {@code out[n, m] = x[n, k] · w[m, k]ᵀ} for several tokens (prefill, expert GEMMs), any weight
 * dtype; compute-bound once n reaches a few dozen.
 *
 * <p>Blocking: the weight matrix is cut into tiles of {@link #TILE_M} rows × {@link #KC}
 * columns. Each tile is converted to F32 once into the worker's scratch (128 KB, stays in L2)
 * and then reused for every x row of the worker's share; x rows are copied four at a time into
 * a 16 KB scratch (L1). The micro-kernel keeps a 4 × 4 block of dot products (4 x rows × 4
 * weight rows) in 16 vector accumulators: 8 loads per 16 FMAs. Scratch is zero-padded to whole
 * vectors and whole 4-row groups, so the micro-kernel has no tails.
 *
 * <p>Work units are (weight tile, x-row chunk) pairs split statically over the workers; x rows
 * are chunked only when there are too few weight tiles to keep every worker busy (small m).
 */
final class MatmulGemm implements WorkerPool.Job {

    static final int MR = 4;
    static final int NR = 4;
    static final int TILE_M = 32;
    static final int KC = 1024;
    /**
     * Up to this many x rows BF16 weight rows are read straight from the checkpoint's data
     * (widened in registers) instead of being converted into the F32 tile first: with only
     * one or two x blocks a converted tile is reused too little to pay for writing and re-reading
     * it. This is the expert FFN at decode (batch × top-k ÷ experts rows per expert, per
     * micro-batch), where the conversion was a quarter of an expert pod's time (JFR, m = 2).
     */
    static final int DIRECT_MAX_ROWS = 8;

    private final float[][] wPack;
    private final float[][] xPack;

    private MemorySegment x;
    private MemorySegment w;
    private MemorySegment out;
    private DType dtype;
    private int n;
    private int k;
    private int m;
    private int mTiles;
    private int nChunks;

    MatmulGemm(int workers) {
        int kcPadded = roundUp(KC, L);
        wPack = new float[workers][TILE_M * kcPadded];
        xPack = new float[workers][MR * kcPadded];
    }

    void prepare(Tensor x, Tensor w, Tensor out, int workers) {
        this.x = x.data();
        this.w = w.data();
        this.out = out.data();
        this.dtype = w.dtype();
        this.n = (int) x.dim(0);
        this.k = (int) x.dim(1);
        this.m = (int) w.dim(0);
        this.mTiles = (m + TILE_M - 1) / TILE_M;
        int xBlocks = (n + MR - 1) / MR;
        this.nChunks = Math.max(1, Math.min(xBlocks, (4 * workers + mTiles - 1) / mTiles));
    }

    @Override
    public void run(int worker, int workers) {
        int units = mTiles * nChunks;
        int from = Simd.splitPoint(units, worker, workers, 1);
        int to = Simd.splitPoint(units, worker + 1, workers, 1);
        float[] wp = wPack[worker];
        float[] xp = xPack[worker];
        int xBlocks = (n + MR - 1) / MR;
        for (int u = from; u < to; u++) {
            int tile = u / nChunks;
            int chunk = u % nChunks;
            int r0 = tile * TILE_M;
            int rows = Math.min(TILE_M, m - r0);
            int b0 = Simd.splitPoint(xBlocks, chunk, nChunks, 1);
            int b1 = Simd.splitPoint(xBlocks, chunk + 1, nChunks, 1);
            boolean direct = n <= DIRECT_MAX_ROWS && k % L == 0 && dtype == DType.BF16;
            for (int k0 = 0; k0 < k; k0 += KC) {
                int kc = Math.min(KC, k - k0);
                int kcp = roundUp(kc, L);
                int paddedRows = roundUp(rows, NR);
                boolean accumulate = k0 > 0;
                if (direct) {
                    direct(xp, b0, b1, r0, rows, paddedRows, k0, kc, kcp, accumulate);
                    continue;
                }
                pack(w, r0, rows, paddedRows, k0, kc, kcp, wp);
                for (int b = b0; b < b1; b++) {
                    int i0 = b * MR;
                    int xRows = Math.min(MR, n - i0);
                    packX(i0, xRows, k0, kc, kcp, xp);
                    for (int g = 0; g < paddedRows; g += NR) {
                        micro(xp, wp, g * kcp, kcp, i0, xRows, r0 + g, Math.min(NR, rows - g), accumulate);
                    }
                }
            }
        }
    }

    /** Rows {@code r0..r0+rows} of w, columns {@code k0..k0+kc}, as F32 rows of stride kcp; padding zeroed. */
    private void pack(MemorySegment src, int r0, int rows, int paddedRows, int k0, int kc, int kcp, float[] dst) {
        for (int r = 0; r < rows; r++) {
            Simd.toFloats(dtype, src, (long) (r0 + r) * k + k0, kc, dst, r * kcp);
            Arrays.fill(dst, r * kcp + kc, (r + 1) * kcp, 0f);
        }
        Arrays.fill(dst, rows * kcp, paddedRows * kcp, 0f);
    }

    private void packX(int i0, int xRows, int k0, int kc, int kcp, float[] dst) {
        for (int r = 0; r < xRows; r++) {
            MemorySegment.copy(x, F32, ((long) (i0 + r) * k + k0) * 4, dst, r * kcp, kc);
            Arrays.fill(dst, r * kcp + kc, (r + 1) * kcp, 0f);
        }
        Arrays.fill(dst, xRows * kcp, MR * kcp, 0f);
    }

    /** The 4 × 4 block out[i0.., j0..] of dot products over one k chunk; writes the valid part. */
    private void micro(float[] xp, float[] wp, int wOff, int kcp, int i0, int xRows, int j0, int wRows,
                       boolean accumulate) {
        FloatVector c00 = FloatVector.zero(Simd.F), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int x1 = kcp, x2 = 2 * kcp, x3 = 3 * kcp;
        int w1 = wOff + kcp, w2 = wOff + 2 * kcp, w3 = wOff + 3 * kcp;
        for (int c = 0; c < kcp; c += L) {
            FloatVector b0 = FloatVector.fromArray(Simd.F, wp, wOff + c);
            FloatVector b1 = FloatVector.fromArray(Simd.F, wp, w1 + c);
            FloatVector b2 = FloatVector.fromArray(Simd.F, wp, w2 + c);
            FloatVector b3 = FloatVector.fromArray(Simd.F, wp, w3 + c);
            FloatVector a = FloatVector.fromArray(Simd.F, xp, c);
            c00 = a.fma(b0, c00);
            c01 = a.fma(b1, c01);
            c02 = a.fma(b2, c02);
            c03 = a.fma(b3, c03);
            a = FloatVector.fromArray(Simd.F, xp, x1 + c);
            c10 = a.fma(b0, c10);
            c11 = a.fma(b1, c11);
            c12 = a.fma(b2, c12);
            c13 = a.fma(b3, c13);
            a = FloatVector.fromArray(Simd.F, xp, x2 + c);
            c20 = a.fma(b0, c20);
            c21 = a.fma(b1, c21);
            c22 = a.fma(b2, c22);
            c23 = a.fma(b3, c23);
            a = FloatVector.fromArray(Simd.F, xp, x3 + c);
            c30 = a.fma(b0, c30);
            c31 = a.fma(b1, c31);
            c32 = a.fma(b2, c32);
            c33 = a.fma(b3, c33);
        }
        // Reduce here, in the method that owns the accumulators: passing vectors to a call that
        // is not inlined would box them.
        store(i0, 0, xRows, j0, wRows, accumulate, c00.reduceLanes(ADD), c01.reduceLanes(ADD),
                c02.reduceLanes(ADD), c03.reduceLanes(ADD));
        store(i0, 1, xRows, j0, wRows, accumulate, c10.reduceLanes(ADD), c11.reduceLanes(ADD),
                c12.reduceLanes(ADD), c13.reduceLanes(ADD));
        store(i0, 2, xRows, j0, wRows, accumulate, c20.reduceLanes(ADD), c21.reduceLanes(ADD),
                c22.reduceLanes(ADD), c23.reduceLanes(ADD));
        store(i0, 3, xRows, j0, wRows, accumulate, c30.reduceLanes(ADD), c31.reduceLanes(ADD),
                c32.reduceLanes(ADD), c33.reduceLanes(ADD));
    }

    /** x blocks {@code b0..b1} against BF16 weight rows {@code r0..r0+rows}, the weights read in place. */
    private void direct(float[] xp, int b0, int b1, int r0, int rows, int paddedRows, int k0, int kc, int kcp,
                        boolean accumulate) {
        for (int b = b0; b < b1; b++) {
            int i0 = b * MR;
            int xRows = Math.min(MR, n - i0);
            packX(i0, xRows, k0, kc, kcp, xp);
            for (int g = 0; g < paddedRows; g += NR) {
                int wRows = Math.min(NR, rows - g);
                microBf16(xp, r0 + g, wRows, k0, kcp, i0, xRows, accumulate);
            }
        }
    }

    /**
     * {@link #micro} with the four weight rows read from BF16 weights at column {@code k0}
     * (rows past {@code wRows} repeat the last valid one; their sums are not stored).
     */
    private void microBf16(float[] xp, int j0, int wRows, int k0, int kcp, int i0, int xRows, boolean accumulate) {
        MemorySegment w = this.w;
        long rowBytes = 2L * k;
        long w0 = j0 * rowBytes + 2L * k0;
        long w1 = w0 + (wRows > 1 ? rowBytes : 0);
        long w2 = w0 + (wRows > 2 ? 2 * rowBytes : 0);
        long w3 = w0 + (wRows > 3 ? 3 * rowBytes : 0);
        FloatVector c00 = FloatVector.zero(Simd.F), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int x1 = kcp, x2 = 2 * kcp, x3 = 3 * kcp;
        for (int c = 0; c < kcp; c += L) {
            long off = 2L * c;
            FloatVector b0 = Simd.loadBf16(w, w0 + off);
            FloatVector b1 = Simd.loadBf16(w, w1 + off);
            FloatVector b2 = Simd.loadBf16(w, w2 + off);
            FloatVector b3 = Simd.loadBf16(w, w3 + off);
            FloatVector a = FloatVector.fromArray(Simd.F, xp, c);
            c00 = a.fma(b0, c00);
            c01 = a.fma(b1, c01);
            c02 = a.fma(b2, c02);
            c03 = a.fma(b3, c03);
            a = FloatVector.fromArray(Simd.F, xp, x1 + c);
            c10 = a.fma(b0, c10);
            c11 = a.fma(b1, c11);
            c12 = a.fma(b2, c12);
            c13 = a.fma(b3, c13);
            a = FloatVector.fromArray(Simd.F, xp, x2 + c);
            c20 = a.fma(b0, c20);
            c21 = a.fma(b1, c21);
            c22 = a.fma(b2, c22);
            c23 = a.fma(b3, c23);
            a = FloatVector.fromArray(Simd.F, xp, x3 + c);
            c30 = a.fma(b0, c30);
            c31 = a.fma(b1, c31);
            c32 = a.fma(b2, c32);
            c33 = a.fma(b3, c33);
        }
        store(i0, 0, xRows, j0, wRows, accumulate, c00.reduceLanes(ADD), c01.reduceLanes(ADD),
                c02.reduceLanes(ADD), c03.reduceLanes(ADD));
        store(i0, 1, xRows, j0, wRows, accumulate, c10.reduceLanes(ADD), c11.reduceLanes(ADD),
                c12.reduceLanes(ADD), c13.reduceLanes(ADD));
        store(i0, 2, xRows, j0, wRows, accumulate, c20.reduceLanes(ADD), c21.reduceLanes(ADD),
                c22.reduceLanes(ADD), c23.reduceLanes(ADD));
        store(i0, 3, xRows, j0, wRows, accumulate, c30.reduceLanes(ADD), c31.reduceLanes(ADD),
                c32.reduceLanes(ADD), c33.reduceLanes(ADD));
    }

    /** Writes (or adds) the valid part of one row of the 4 × 4 block. */
    private void store(int i0, int i, int xRows, int j0, int wRows, boolean accumulate,
                       float s0, float s1, float s2, float s3) {
        if (i >= xRows) {
            return;
        }
        long base = (long) (i0 + i) * m + j0;
        put(base, s0, accumulate);
        if (wRows > 1) {
            put(base + 1, s1, accumulate);
        }
        if (wRows > 2) {
            put(base + 2, s2, accumulate);
        }
        if (wRows > 3) {
            put(base + 3, s3, accumulate);
        }
    }

    private void put(long index, float s, boolean accumulate) {
        out.setAtIndex(F32, index, accumulate ? out.getAtIndex(F32, index) + s : s);
    }

    private static int roundUp(int v, int multiple) {
        return (v + multiple - 1) / multiple * multiple;
    }
}
