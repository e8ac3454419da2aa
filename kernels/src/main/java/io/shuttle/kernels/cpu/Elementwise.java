package io.shuttle.kernels.cpu;

import io.shuttle.kernels.Tensor;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static io.shuttle.kernels.cpu.Simd.F32;
import static io.shuttle.kernels.cpu.Simd.L;

/**
 * Element-wise binary ops over F32 tensors of one shape: {@code add} (residuals) and
 * {@code siluMul} (SwiGLU, {@code silu(g) * u = g / (1 + e^-g) * u}). Elements are split over
 * workers in whole vectors; out may alias either input.
 */
final class Elementwise implements WorkerPool.Job {

    enum Op { ADD, SILU_MUL }

    private Op op;
    private MemorySegment a;
    private MemorySegment b;
    private MemorySegment out;
    private long count;

    long prepare(Op op, Tensor a, Tensor b, Tensor out) {
        this.op = op;
        this.a = a.data();
        this.b = b.data();
        this.out = out.data();
        this.count = a.numel();
        return count;
    }

    @Override
    public void run(int worker, int workers) {
        long vectors = count / L;
        long from = vectors * worker / workers * L;
        long to = worker == workers - 1 ? count : vectors * (worker + 1) / workers * L;
        long bound = to - (to - from) % L;
        if (op == Op.ADD) {
            for (long i = from; i < bound; i += L) {
                FloatVector.fromMemorySegment(Simd.F, a, i * 4, Simd.LE)
                        .add(FloatVector.fromMemorySegment(Simd.F, b, i * 4, Simd.LE)).intoMemorySegment(out, i * 4, Simd.LE);
            }
            for (long i = bound; i < to; i++) {
                out.setAtIndex(F32, i, a.getAtIndex(F32, i) + b.getAtIndex(F32, i));
            }
        } else {
            Simd.siluMul(a, b, out, from, to);
        }
    }
}
