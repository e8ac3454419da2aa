package io.shuttle.kernels.cuda;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Argument checks for the CUDA backend. Shapes and dtypes go through the shared
 * {@link io.shuttle.kernels.Checks}, so every backend rejects a call with the same message. The
 * index <em>values</em> those checks also read live in device memory here; reading them would cost
 * a host round trip per call, so the checks see a zero-filled host stand-in of the same shape,
 * and the kernels validate the real values themselves (reported through the error word).
 */
final class DeviceChecks implements AutoCloseable {
    private static final long STAND_IN_BYTES = 1 << 20;

    private final String owner;
    private final DeviceMemory memory;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment zeros = arena.allocate(STAND_IN_BYTES, 64);

    DeviceChecks(String owner, DeviceMemory memory) {
        this.owner = owner;
        this.memory = memory;
    }

    /** A host I32 tensor of {@code t}'s shape holding zeros (valid for any non-empty bound). */
    Tensor standIn(Tensor t) {
        if (t.dtype() != DType.I32) {
            return t;  // Checks rejects it by dtype with its usual message
        }
        MemorySegment seg = t.byteSize() <= STAND_IN_BYTES ? zeros : Arena.ofAuto().allocate(t.byteSize(), 64);
        return Tensor.of(seg, DType.I32, t.shape());
    }

    PagedAttentionMeta standIn(PagedAttentionMeta meta) {
        return new PagedAttentionMeta(standIn(meta.blockTables()), meta.blockSize(), standIn(meta.tokenSeq()),
                standIn(meta.tokenPos()));
    }

    /** Every operand must be memory of this backend (device, live); host memory would fault on the GPU. */
    void onDevice(String op, Object... namesAndTensors) {
        for (int i = 0; i < namesAndTensors.length; i += 2) {
            String name = (String) namesAndTensors[i];
            Tensor t = (Tensor) namesAndTensors[i + 1];
            if (!memory.owns(t)) {
                throw new IllegalArgumentException(op + ": " + name + " " + t + " is not in " + owner
                        + "'s device memory (allocate it with this backend's allocate, weights with prepareWeight,"
                        + " and fill it with copyFromHost)");
            }
        }
    }

    static boolean aligned16(Tensor t) {
        return (t.data().address() & 15) == 0;
    }

    @Override
    public void close() {
        arena.close();
    }
}
