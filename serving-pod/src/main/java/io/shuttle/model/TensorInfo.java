package io.shuttle.model;

import io.shuttle.kernels.DType;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * What a checkpoint says about one tensor, known without mapping its data.
 *
 * @param name     checkpoint name
 * @param file     the safetensors file holding it
 * @param dtype    element type
 * @param shape    dimensions, row-major
 * @param byteSize size of its data in bytes
 */
public record TensorInfo(String name, Path file, DType dtype, long[] shape, long byteSize) {

    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && file.equals(t.file) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && byteSize == t.byteSize;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " in " + file.getFileName();
    }
}
