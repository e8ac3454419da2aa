package io.shuttle.kernels.cpu;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static io.shuttle.kernels.cpu.Simd.F32;
import static io.shuttle.kernels.cpu.Simd.L;

/**
 * {@code out_j[1, m_j] = x[1, k] · w_j[m_j, k]ᵀ} for one token (decode) and one or several
 * weight matrices sharing x (Q/K/V, gate/up), F32 or BF16 weights.
 *
 * <p>This is a pass over the weights with almost no reuse, so it must run at memory (or LLC)
 * speed: each row is streamed once, four rows at a time, with x in L1. The matrices of one call
 * form one list of rows, cut into chunks that the pool's threads claim dynamically, so one
 * dispatch serves Q, K and V together and a thread that is descheduled by other work on the
 * machine does not hold the others up.
 *
 * <p>BF16 is widened in registers (zero-extend, shift into the high half). Reading it as 32-bit
 * pairs instead ({@code pair << 16} and {@code pair & 0xFFFF0000} against x split into even and
 * odd halves: fewer vector ops per weight) measured no faster on this machine (20–21 against
 * 22–23 GB/s for 768 × 512 matrices streamed from the LLC, 1 thread, with a 24 GB/s read
 * ceiling), so the simpler form stays. The loops are written out per dtype: a shared loop
 * calling a per-dtype loader through an interface would be megamorphic and box every vector.
 */
final class MatmulGemv implements WorkerPool.Job {

    private static final int ROWS = 4;
    /** Rows per claimable chunk: big enough to amortise a claim, small enough to balance two threads. */
    private static final int CHUNK_ROWS = 64;

    private MemorySegment x;
    private int k;
    private int count;
    private MemorySegment[] ws = new MemorySegment[4];
    private MemorySegment[] outs = new MemorySegment[4];
    private DType[] dtypes = new DType[4];
    /** firstRow[j] = rows of matrices before j; firstRow[count] = total rows. */
    private int[] firstRow = new int[5];

    /** F16 goes to {@link MatmulGemm} even at n = 1: its integer-arithmetic conversion measured slower here. */
    static boolean supports(DType weightType) {
        return weightType == DType.F32 || weightType == DType.BF16;
    }

    /** One matrix. */
    void prepare(Tensor x, Tensor w, Tensor out) {
        begin(x, 1);
        add(0, w, out);
    }

    /** Several matrices of the same x (every one {@link #supports supported}). */
    void prepare(Tensor x, Tensor[] w, Tensor[] out) {
        begin(x, w.length);
        for (int j = 0; j < w.length; j++) {
            add(j, w[j], out[j]);
        }
    }

    /** Total weight rows of the prepared call. */
    int rows() {
        return firstRow[count];
    }

    /** Chunks to hand out: about {@link #CHUNK_ROWS} rows each. */
    int chunks() {
        return Math.clamp((rows() + CHUNK_ROWS - 1) / CHUNK_ROWS, 1, WorkerPool.MAX_SHARES);
    }

    private void begin(Tensor xt, int matrices) {
        this.x = xt.data();
        this.k = (int) xt.dim(1);
        this.count = matrices;
        if (ws.length < matrices) {
            ws = new MemorySegment[matrices];
            outs = new MemorySegment[matrices];
            dtypes = new DType[matrices];
            firstRow = new int[matrices + 1];
        }
        firstRow[0] = 0;
    }

    private void add(int j, Tensor w, Tensor out) {
        ws[j] = w.data();
        outs[j] = out.data();
        dtypes[j] = w.dtype();
        firstRow[j + 1] = firstRow[j] + (int) w.dim(0);
    }

    /** Chunk {@code chunk} of {@code chunks}: a run of rows, possibly across matrix boundaries. */
    @Override
    public void run(int chunk, int chunks) {
        int total = firstRow[count];
        int from = Simd.splitPoint(total, chunk, chunks, ROWS);
        int to = Simd.splitPoint(total, chunk + 1, chunks, ROWS);
        for (int j = 0; j < count && from < to; j++) {
            int lo = Math.max(from, firstRow[j]);
            int hi = Math.min(to, firstRow[j + 1]);
            if (lo < hi) {
                if (dtypes[j] == DType.BF16) {
                    rowsBf16(ws[j], outs[j], lo - firstRow[j], hi - firstRow[j]);
                } else {
                    rowsF32(ws[j], outs[j], lo - firstRow[j], hi - firstRow[j]);
                }
            }
        }
    }

    private void rowsBf16(MemorySegment w, MemorySegment out, int from, int to) {
        MemorySegment x = this.x; // a local, so C2 hoists its checks out of the loop
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
            out.setAtIndex(F32, r, a0.reduceLanes(VectorOperators.ADD) + tail(w, DType.BF16, r, bound));
            out.setAtIndex(F32, r + 1, a1.reduceLanes(VectorOperators.ADD) + tail(w, DType.BF16, r + 1, bound));
            out.setAtIndex(F32, r + 2, a2.reduceLanes(VectorOperators.ADD) + tail(w, DType.BF16, r + 2, bound));
            out.setAtIndex(F32, r + 3, a3.reduceLanes(VectorOperators.ADD) + tail(w, DType.BF16, r + 3, bound));
        }
        for (; r < to; r++) {
            long w0 = r * rowBytes;
            FloatVector a0 = FloatVector.zero(Simd.F);
            for (int c = 0; c < bound; c += L) {
                a0 = Simd.loadBf16(w, w0 + 2L * c).fma(Simd.loadF32(x, 4L * c), a0);
            }
            out.setAtIndex(F32, r, a0.reduceLanes(VectorOperators.ADD) + tail(w, DType.BF16, r, bound));
        }
    }

    private void rowsF32(MemorySegment w, MemorySegment out, int from, int to) {
        MemorySegment x = this.x; // a local, so C2 hoists its checks out of the loop
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
            out.setAtIndex(F32, r, a0.reduceLanes(VectorOperators.ADD) + tail(w, DType.F32, r, bound));
            out.setAtIndex(F32, r + 1, a1.reduceLanes(VectorOperators.ADD) + tail(w, DType.F32, r + 1, bound));
            out.setAtIndex(F32, r + 2, a2.reduceLanes(VectorOperators.ADD) + tail(w, DType.F32, r + 2, bound));
            out.setAtIndex(F32, r + 3, a3.reduceLanes(VectorOperators.ADD) + tail(w, DType.F32, r + 3, bound));
        }
        for (; r < to; r++) {
            long w0 = r * rowBytes;
            FloatVector a0 = FloatVector.zero(Simd.F);
            for (int c = 0; c < bound; c += L) {
                a0 = Simd.loadF32(w, w0 + 4L * c).fma(Simd.loadF32(x, 4L * c), a0);
            }
            out.setAtIndex(F32, r, a0.reduceLanes(VectorOperators.ADD) + tail(w, DType.F32, r, bound));
        }
    }

    /** Scalar remainder of row {@code r}: columns {@code from..k-1}. */
    private float tail(MemorySegment w, DType dtype, int r, int from) {
        float sum = 0;
        long base = (long) r * k;
        for (int c = from; c < k; c++) {
            sum += x.getAtIndex(F32, c) * Simd.getFloat(dtype, w, base + c);
        }
        return sum;
    }
}
