package io.shuttle.kernels;

import java.lang.foreign.MemorySegment;

/**
 * The memory half of a {@link Backend} whose memory is host memory: tensors are 64-byte
 * aligned off-heap segments (one arena each), weights are used in place (memory-mapped), and
 * host transfers are plain copies. CPU backends extend it and add the math.
 */
public abstract class HostBackend implements Backend {
    private final HostMemory memory;

    protected HostBackend(String owner) {
        this.memory = new HostMemory(owner);
    }

    @Override
    public Tensor allocate(DType dtype, long... shape) {
        return memory.allocate(dtype, shape);
    }

    @Override
    public void release(Tensor tensor) {
        memory.release(tensor);
    }

    /** Host weights are used where they are: no copy of a memory-mapped checkpoint. */
    @Override
    public Tensor prepareWeight(Tensor hostWeight) {
        return hostWeight;
    }

    @Override
    public void copyToHost(Tensor src, MemorySegment dst) {
        Checks.copyToHost(src, dst);
        MemorySegment.copy(src.data(), 0, dst, 0, src.byteSize());
    }

    @Override
    public void copyFromHost(MemorySegment src, Tensor dst) {
        Checks.copyFromHost(src, dst);
        MemorySegment.copy(src, 0, dst.data(), 0, dst.byteSize());
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        Checks.copy(src, dst);
        MemorySegment.copy(src.data(), 0, dst.data(), 0, src.byteSize());
    }

    @Override
    public void zero(Tensor t) {
        t.data().fill((byte) 0);
    }

    /** Frees every tensor still allocated. */
    protected void releaseAll() {
        memory.close();
    }
}
