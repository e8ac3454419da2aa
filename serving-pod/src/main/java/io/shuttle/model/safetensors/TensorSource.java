package io.shuttle.model.safetensors;

import java.lang.foreign.MemorySegment;

/**
 * Produces the bytes of one tensor when the writer needs them, so that a whole model never has
 * to be in memory at once.
 */
@FunctionalInterface
public interface TensorSource {

    /**
     * Writes the tensor's little-endian, row-major bytes into {@code out}, which has exactly
     * {@code spec.byteSize()} bytes.
     */
    void fill(TensorSpec spec, MemorySegment out);
}
