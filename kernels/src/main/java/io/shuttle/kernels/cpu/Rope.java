package io.shuttle.kernels.cpu;

import io.shuttle.kernels.Tensor;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static io.shuttle.kernels.cpu.Simd.F32;
import static io.shuttle.kernels.cpu.Simd.L;

/**
 * Rotary position embedding in place, HF "rotate_half" layout: in each head, element i pairs
 * with element i + headDim/2 and both rotate by {@code pos * theta^(-2i/headDim)}.
 *
 * <p>cos/sin are computed in double (then rounded to F32) once per (position, i) and kept in a
 * table that grows with the largest position seen, so a call costs two loads per pair instead
 * of two transcendental functions. The table is rebuilt when headDim or theta changes (one
 * model per backend is the expected use).
 */
final class Rope implements WorkerPool.Job {

    private float[] cos = new float[0];
    private float[] sin = new float[0];
    private int tableHeadDim;
    private float tableTheta;
    private int tablePositions;

    private MemorySegment x;
    private MemorySegment positions;
    private int n;
    private int numHeads;
    private int headDim;

    long prepare(Tensor x, Tensor positions, int numHeads, int headDim, float theta) {
        this.x = x.data();
        this.positions = positions.data();
        this.n = (int) x.dim(0);
        this.numHeads = numHeads;
        this.headDim = headDim;
        int maxPos = -1;
        for (int i = 0; i < n; i++) {
            maxPos = Math.max(maxPos, positions.getInt(i)); // non-negative: see Checks.rope
        }
        ensureTable(maxPos + 1, headDim, theta);
        return (long) n * numHeads * headDim;
    }

    private void ensureTable(int needed, int headDim, float theta) {
        boolean sameKey = headDim == tableHeadDim && Float.compare(theta, tableTheta) == 0;
        if (sameKey && needed <= tablePositions) {
            return;
        }
        int half = headDim / 2;
        int capacity = Math.max(needed, sameKey ? tablePositions * 2 : 1024);
        float[] c = new float[Math.multiplyExact(capacity, half)];
        float[] s = new float[c.length];
        int from = 0;
        if (sameKey) {
            System.arraycopy(cos, 0, c, 0, cos.length);
            System.arraycopy(sin, 0, s, 0, sin.length);
            from = tablePositions;
        }
        double[] invFreq = new double[half];
        for (int i = 0; i < half; i++) {
            invFreq[i] = 1.0 / Math.pow(theta, 2.0 * i / headDim);
        }
        for (int p = from; p < capacity; p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * invFreq[i];
                c[p * half + i] = (float) Math.cos(angle);
                s[p * half + i] = (float) Math.sin(angle);
            }
        }
        cos = c;
        sin = s;
        tableHeadDim = headDim;
        tableTheta = theta;
        tablePositions = capacity;
    }

    @Override
    public void run(int worker, int workers) {
        int from = Simd.splitPoint(n, worker, workers, 1);
        int to = Simd.splitPoint(n, worker + 1, workers, 1);
        int half = headDim / 2;
        int bound = half - half % L;
        for (int i = from; i < to; i++) {
            int t = positions.getAtIndex(Simd.I32, i) * half;
            for (int h = 0; h < numHeads; h++) {
                long lo = ((long) i * numHeads + h) * headDim;
                long hi = lo + half;
                for (int c = 0; c < bound; c += L) {
                    FloatVector x1 = Simd.loadF32(x, (lo + c) * 4);
                    FloatVector x2 = Simd.loadF32(x, (hi + c) * 4);
                    FloatVector cv = FloatVector.fromArray(Simd.F, cos, t + c);
                    FloatVector sv = FloatVector.fromArray(Simd.F, sin, t + c);
                    x1.mul(cv).sub(x2.mul(sv)).intoMemorySegment(x, (lo + c) * 4, Simd.LE);
                    x2.mul(cv).add(x1.mul(sv)).intoMemorySegment(x, (hi + c) * 4, Simd.LE);
                }
                for (int c = bound; c < half; c++) {
                    float x1 = x.getAtIndex(F32, lo + c);
                    float x2 = x.getAtIndex(F32, hi + c);
                    x.setAtIndex(F32, lo + c, x1 * cos[t + c] - x2 * sin[t + c]);
                    x.setAtIndex(F32, hi + c, x2 * cos[t + c] + x1 * sin[t + c]);
                }
            }
        }
    }
}
