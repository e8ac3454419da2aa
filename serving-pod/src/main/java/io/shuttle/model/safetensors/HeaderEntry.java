package io.shuttle.model.safetensors;

import java.util.Arrays;

/**
 * One tensor as declared in a safetensors header. Offsets are relative to the start of the data
 * region (the byte after the JSON header), {@code [begin, end)}.
 *
 * @param name  tensor name
 * @param dtype element type as written in the file
 * @param shape dimensions, row-major; empty for a scalar
 * @param begin first byte, relative to the data region
 * @param end   one past the last byte, relative to the data region
 */
public record HeaderEntry(String name, SafetensorsDType dtype, long[] shape, long begin, long end) {

    public HeaderEntry {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long byteSize() {
        return end - begin;
    }

    /** Number of elements (1 for a scalar). */
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof HeaderEntry e && name.equals(e.name) && dtype == e.dtype
                && Arrays.equals(shape, e.shape) && begin == e.begin && end == e.end;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " @[" + begin + ", " + end + ")";
    }
}
