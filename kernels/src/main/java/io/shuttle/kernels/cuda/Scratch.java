package io.shuttle.kernels.cuda;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;

import java.util.EnumMap;
import java.util.Map;

/**
 * Device scratch buffers reused across calls (bf16 copies of activations for the tensor-core
 * GEMMs, the SwiGLU output of the grouped expert FFN). Reuse is safe because the backend runs
 * one call at a time and everything goes on one stream in order. A buffer only grows; growing
 * waits for the stream so that no queued kernel still reads the old one.
 */
final class Scratch implements AutoCloseable {

    enum Slot {
        /** bf16 copy of a GEMM's A operand (converted or gathered activations). */
        A_BF16,
        /** bf16 SwiGLU output, the A operand of the down projection. */
        H_BF16
    }

    private final DeviceMemory memory;
    private final CudaContext cuda;
    private final String owner;
    private final Map<Slot, Tensor> buffers = new EnumMap<>(Slot.class);

    Scratch(DeviceMemory memory, CudaContext cuda, String owner) {
        this.memory = memory;
        this.cuda = cuda;
        this.owner = owner;
    }

    /** A bf16 tensor [rows, cols] in the slot's buffer. */
    Tensor bf16(Slot slot, long rows, long cols) {
        long need = Math.multiplyExact(rows, cols);
        Tensor t = buffers.get(slot);
        if (t == null || t.numel() < need) {
            if (t != null) {
                cuda.synchronize("growing scratch " + slot);
                memory.release(t, owner);
            }
            // Grow by half again so that slowly rising batch sizes don't reallocate every step.
            t = memory.allocate(DType.BF16, new long[] {Math.max(need, need + need / 2)}, owner);
            buffers.put(slot, t);
        }
        return Tensor.ofDevice(t.data(), DType.BF16, rows, cols);
    }

    @Override
    public void close() {
        buffers.clear();  // the memory itself is freed with the backend's DeviceMemory
    }
}
