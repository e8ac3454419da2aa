package io.shuttle.kernels.cpu;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;

import java.lang.foreign.MemorySegment;

/** Embedding lookup: row {@code ids[i]} of the table, converted to F32, into row i of out. */
final class Embedding implements WorkerPool.Job {

    private MemorySegment table;
    private DType dtype;
    private MemorySegment ids;
    private MemorySegment out;
    private int n;
    private int d;

    long prepare(Tensor table, Tensor ids, Tensor out) {
        this.table = table.data();
        this.dtype = table.dtype();
        this.ids = ids.data();
        this.out = out.data();
        this.n = (int) ids.numel();
        this.d = (int) table.dim(1);
        return (long) n * d;
    }

    @Override
    public void run(int worker, int workers) {
        int from = Simd.splitPoint(n, worker, workers, 1);
        int to = Simd.splitPoint(n, worker + 1, workers, 1);
        for (int i = from; i < to; i++) {
            long row = ids.getAtIndex(Simd.I32, i);
            Simd.toFloats(dtype, table, row * d, d, out, (long) i * d);
        }
    }
}
