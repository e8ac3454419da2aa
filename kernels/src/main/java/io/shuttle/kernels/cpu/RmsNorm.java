package io.shuttle.kernels.cpu;

import io.shuttle.kernels.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static io.shuttle.kernels.cpu.Simd.F32;
import static io.shuttle.kernels.cpu.Simd.L;

/**
 * Row-wise RMSNorm, {@code out = (x * rsqrt(mean(x²) + eps)) * weight}, in HF's order of
 * operations. The weight (often BF16 in checkpoints) is converted to F32 once per call into a
 * reused buffer; rows are split over workers. out may alias x: each row is read fully before
 * it is written.
 */
final class RmsNorm implements WorkerPool.Job {

    private float[] weight = new float[0];
    private MemorySegment x;
    private MemorySegment out;
    private int n;
    private int d;
    private float eps;

    /** @return the amount of work (elements), for the caller's parallelise-or-not decision */
    long prepare(Tensor x, Tensor weight, float eps, Tensor out) {
        this.x = x.data();
        this.out = out.data();
        this.n = (int) x.dim(0);
        this.d = (int) x.dim(1);
        this.eps = eps;
        if (this.weight.length < d) {
            this.weight = new float[d];
        }
        Simd.toFloats(weight.dtype(), weight.data(), 0, d, this.weight, 0);
        return (long) n * d;
    }

    @Override
    public void run(int worker, int workers) {
        int from = Simd.splitPoint(n, worker, workers, 1);
        int to = Simd.splitPoint(n, worker + 1, workers, 1);
        int bound = d - d % L;
        for (int i = from; i < to; i++) {
            long base = (long) i * d;
            FloatVector acc = FloatVector.zero(Simd.F);
            for (int c = 0; c < bound; c += L) {
                FloatVector v = Simd.loadF32(x, (base + c) * 4);
                acc = v.fma(v, acc);
            }
            double sumSq = acc.reduceLanes(VectorOperators.ADD);
            for (int c = bound; c < d; c++) {
                float v = x.getAtIndex(F32, base + c);
                sumSq += v * v;
            }
            float inv = (float) (1.0 / Math.sqrt(sumSq / d + eps));
            for (int c = 0; c < bound; c += L) {
                Simd.loadF32(x, (base + c) * 4).mul(inv).mul(FloatVector.fromArray(Simd.F, weight, c))
                        .intoMemorySegment(out, (base + c) * 4, Simd.LE);
            }
            for (int c = bound; c < d; c++) {
                out.setAtIndex(F32, base + c, x.getAtIndex(F32, base + c) * inv * weight[c]);
            }
        }
    }
}
