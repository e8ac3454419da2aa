package io.shuttle.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A dense, row-major tensor over an off-heap {@link MemorySegment}: the segment, a dtype and a
 * shape, nothing else. The segment may be a slice of a memory-mapped checkpoint (read-only
 * weights), memory allocated by a {@link Backend}, or (for a device backend) a segment whose
 * address is a device pointer and must not be dereferenced on the host.
 *
 * <p>A tensor may instead be <em>packed</em>: a linear weight a backend has rearranged into its
 * own layout ({@link Backend#prepareLinear}). It keeps its logical shape and dtype for checks
 * and messages, but its segment is opaque outside that backend: only {@code matmul} accepts it,
 * and the element accessors, {@link #rows} and {@link #reshape} refuse it.
 *
 * <p>Tensors do not own memory: whoever allocated the segment (an {@link Arena}) frees it.
 */
public final class Tensor {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;

    private final MemorySegment data;
    private final DType dtype;
    private final long[] shape;
    private final long numel;
    private final boolean device;
    private final Object packing;

    private Tensor(MemorySegment data, DType dtype, long[] shape) {
        this(data, dtype, shape, false);
    }

    private Tensor(MemorySegment data, DType dtype, long[] shape, boolean device) {
        this(data, dtype, shape, device, null);
    }

    private Tensor(MemorySegment data, DType dtype, long[] shape, boolean device, Object packing) {
        this.device = device;
        this.packing = packing;
        this.dtype = dtype;
        this.shape = shape.clone();
        long n = 1;
        for (long s : shape) {
            if (s < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, s);
        }
        this.numel = n;
        long bytes = n * dtype.byteSize();
        if (data.byteSize() < bytes) {
            throw new IllegalArgumentException("segment of " + data.byteSize() + " bytes is too small for "
                    + dtype + Arrays.toString(shape) + " (" + bytes + " bytes)");
        }
        // A packed layout may pad, so its segment keeps every byte the backend gave it.
        this.data = data.byteSize() == bytes || packing != null ? data : data.asSlice(0, bytes);
    }

    /**
     * A linear weight of logical shape {@code shape} stored in a backend's own layout, described
     * by {@code packing} (which only that backend interprets); {@code data} holds at least the
     * logical byte count (layouts may pad).
     */
    public static Tensor packed(MemorySegment data, DType dtype, Object packing, long... shape) {
        if (packing == null) {
            throw new IllegalArgumentException("a packed tensor needs a packing description");
        }
        return new Tensor(data, dtype, shape, false, packing);
    }

    /** Wraps an existing segment (it must hold at least numel × dtype bytes). */
    public static Tensor of(MemorySegment data, DType dtype, long... shape) {
        return new Tensor(data, dtype, shape);
    }

    /**
     * Wraps device memory: {@code addressRange}'s address is a device pointer and its size the
     * bytes behind it. The host never dereferences it; the element accessors below refuse such a
     * tensor instead of crashing the JVM, and {@link Backend#copyToHost} brings it over.
     */
    public static Tensor ofDevice(MemorySegment addressRange, DType dtype, long... shape) {
        return new Tensor(addressRange, dtype, shape, true);
    }

    /** Allocates a zeroed tensor in the given arena (host memory). */
    public static Tensor allocate(Arena arena, DType dtype, long... shape) {
        long n = 1;
        for (long s : shape) {
            n = Math.multiplyExact(n, s);
        }
        return new Tensor(arena.allocate(Math.max(1, n * dtype.byteSize()), 64), dtype, shape);
    }

    /** A host F32 tensor holding a copy of the given values (tests, small constants). */
    public static Tensor ofFloats(Arena arena, float[] values, long... shape) {
        Tensor t = allocate(arena, DType.F32, shape);
        MemorySegment.copy(values, 0, t.data, F32, 0, values.length);
        return t;
    }

    /** A host I32 tensor holding a copy of the given values. */
    public static Tensor ofInts(Arena arena, int[] values, long... shape) {
        Tensor t = allocate(arena, DType.I32, shape);
        MemorySegment.copy(values, 0, t.data, I32, 0, values.length);
        return t;
    }

    public MemorySegment data() {
        return data;
    }

    public DType dtype() {
        return dtype;
    }

    /** True when {@link #data()} is a device address range (see {@link #ofDevice}). */
    public boolean isDevice() {
        return device;
    }

    /** True for a weight in a backend's own layout (see {@link #packed}). */
    public boolean isPacked() {
        return packing != null;
    }

    /** The backend's description of a packed layout; null for a row-major tensor. */
    public Object packing() {
        return packing;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /** Size of dimension {@code i}; negative {@code i} counts from the end. */
    public long dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public long numel() {
        return numel;
    }

    public long byteSize() {
        return numel * dtype.byteSize();
    }

    /** Elements per row: the product of all dimensions but the first. */
    public long rowSize() {
        return shape.length == 0 ? 1 : numel / Math.max(1, shape[0]);
    }

    /** A view of rows {@code [from, to)} along the first dimension, sharing memory. */
    public Tensor rows(long from, long to) {
        requireRowMajor("rows");
        if (from < 0 || to < from || to > shape[0]) {
            throw new IndexOutOfBoundsException("rows [" + from + ", " + to + ") of " + this);
        }
        long[] s = shape.clone();
        s[0] = to - from;
        long rowBytes = rowSize() * dtype.byteSize();
        return new Tensor(data.asSlice(from * rowBytes, (to - from) * rowBytes), dtype, s, device);
    }

    /** The same memory seen with another shape of equal element count. */
    public Tensor reshape(long... newShape) {
        requireRowMajor("reshape");
        long n = 1;
        for (long s : newShape) {
            n *= s;
        }
        if (n != numel) {
            throw new IllegalArgumentException("cannot reshape " + this + " to " + Arrays.toString(newShape));
        }
        return new Tensor(data, dtype, newShape, device);
    }

    /** Reads element {@code i} (flat index) as a float, converting from the stored dtype. Slow path. */
    public float getFloat(long i) {
        requireHost();
        return switch (dtype) {
            case F32 -> data.getAtIndex(F32, i);
            case BF16 -> Float.intBitsToFloat((data.getAtIndex(I16, i) & 0xFFFF) << 16);
            case F16 -> Float.float16ToFloat(data.getAtIndex(I16, i));
            case I32 -> data.getAtIndex(I32, i);
        };
    }

    /** Writes element {@code i} (flat index), converting to the stored dtype (BF16 rounds to nearest even). */
    public void setFloat(long i, float v) {
        requireHost();
        switch (dtype) {
            case F32 -> data.setAtIndex(F32, i, v);
            case BF16 -> data.setAtIndex(I16, i, Bf16.fromFloat(v));
            case F16 -> data.setAtIndex(I16, i, Float.floatToFloat16(v));
            case I32 -> data.setAtIndex(I32, i, (int) v);
        }
    }

    public int getInt(long i) {
        requireHost();
        requireDType(DType.I32);
        return data.getAtIndex(I32, i);
    }

    public void setInt(long i, int v) {
        requireHost();
        requireDType(DType.I32);
        data.setAtIndex(I32, i, v);
    }

    /** Copies all elements out as floats (tests, small tensors). */
    public float[] toFloatArray() {
        float[] out = new float[Math.toIntExact(numel)];
        for (int i = 0; i < out.length; i++) {
            out[i] = getFloat(i);
        }
        return out;
    }

    public int[] toIntArray() {
        requireHost();
        requireDType(DType.I32);
        return data.toArray(ValueLayout.JAVA_INT);
    }

    private void requireRowMajor(String what) {
        if (packing != null) {
            throw new IllegalStateException(what + ": " + this + " is a linear weight packed into a backend's own"
                    + " layout; only matmul reads it (keep the checkpoint tensor for anything else)");
        }
    }

    private void requireHost() {
        requireRowMajor("element access");
        if (device) {
            throw new IllegalStateException(this + " lives in device memory and cannot be read or written from the"
                    + " host; copy it with Backend.copyToHost / copyFromHost");
        }
    }

    public void requireDType(DType expected) {
        if (dtype != expected) {
            throw new IllegalArgumentException("expected " + expected + " tensor, got " + this);
        }
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape) + " " + dtype + (device ? " (device)" : "") + (packing != null ? " (packed)" : "");
    }
}
