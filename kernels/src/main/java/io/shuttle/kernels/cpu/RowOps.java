package io.shuttle.kernels.cpu;

import io.shuttle.kernels.Tensor;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static io.shuttle.kernels.cpu.Simd.F32;
import static io.shuttle.kernels.cpu.Simd.I32;
import static io.shuttle.kernels.cpu.Simd.L;

/**
 * Row movement for MoE dispatch and the KV cache: {@code gatherRows} (out[i] = src[index[i]]),
 * {@code writeKv} (cache[slot[i]] = k[i], v[i]) — plain row copies on the calling thread — and
 * {@code scatterAddRows} (out[index[i]] += scale[i] · src[i]), which is split over workers by
 * columns, so every worker sees every row and even repeated indices cannot race.
 */
final class RowOps implements WorkerPool.Job {

    private MemorySegment src;
    private MemorySegment index;
    private MemorySegment scale;
    private MemorySegment out;
    private int rows;
    private int d;

    static void gatherRows(Tensor src, Tensor index, Tensor out) {
        long rowBytes = src.dim(1) * 4;
        for (long i = 0, r = index.numel(); i < r; i++) {
            MemorySegment.copy(src.data(), index.data().getAtIndex(I32, i) * rowBytes, out.data(), i * rowBytes,
                    rowBytes);
        }
    }

    static void writeKv(Tensor k, Tensor v, Tensor kCache, Tensor vCache, Tensor slots) {
        long rowBytes = k.dim(1) * 4;
        for (long i = 0, n = k.dim(0); i < n; i++) {
            long slot = slots.data().getAtIndex(I32, i);
            MemorySegment.copy(k.data(), i * rowBytes, kCache.data(), slot * rowBytes, rowBytes);
            MemorySegment.copy(v.data(), i * rowBytes, vCache.data(), slot * rowBytes, rowBytes);
        }
    }

    long prepareScatterAdd(Tensor src, Tensor index, Tensor scale, Tensor out) {
        this.src = src.data();
        this.index = index.data();
        this.scale = scale.data();
        this.out = out.data();
        this.rows = (int) src.dim(0);
        this.d = (int) src.dim(1);
        return (long) rows * d;
    }

    @Override
    public void run(int worker, int workers) {
        int from = Simd.splitPoint(d, worker, workers, L);
        int to = Simd.splitPoint(d, worker + 1, workers, L);
        int bound = to - (to - from) % L;
        for (int i = 0; i < rows; i++) {
            long srcBase = (long) i * d;
            long outBase = (long) index.getAtIndex(I32, i) * d;
            float s = scale.getAtIndex(F32, i);
            FloatVector sv = FloatVector.broadcast(Simd.F, s);
            for (int c = from; c < bound; c += L) {
                Simd.loadF32(src, (srcBase + c) * 4).fma(sv, Simd.loadF32(out, (outBase + c) * 4))
                        .intoMemorySegment(out, (outBase + c) * 4, Simd.LE);
            }
            for (int c = bound; c < to; c++) {
                out.setAtIndex(F32, outBase + c, out.getAtIndex(F32, outBase + c) + s * src.getAtIndex(F32, srcBase + c));
            }
        }
    }
}
