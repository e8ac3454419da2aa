package io.shuttle.kernels;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Seeded tensors and comparisons shared by the kernel tests. */
public final class Fixtures {
    private Fixtures() {
    }

    /** A tensor of the backend's memory holding uniform values in [-scale, scale], rounded to dtype. */
    public static Tensor random(Backend backend, Random rnd, DType dtype, float scale, long... shape) {
        Tensor t = backend.allocate(dtype, shape);
        for (long i = 0; i < t.numel(); i++) {
            t.setFloat(i, (rnd.nextFloat() * 2 - 1) * scale);
        }
        return t;
    }

    public static Tensor ints(Backend backend, int[] values, long... shape) {
        Tensor t = backend.allocate(DType.I32, shape);
        for (int i = 0; i < values.length; i++) {
            t.setInt(i, values[i]);
        }
        return t;
    }

    public static Tensor floats(Backend backend, float[] values, long... shape) {
        Tensor t = backend.allocate(DType.F32, shape);
        for (int i = 0; i < values.length; i++) {
            t.setFloat(i, values[i]);
        }
        return t;
    }

    /** A tensor in {@code into}'s memory with the same dtype, shape and bytes as {@code t}. */
    public static Tensor copyOf(Backend into, Tensor t) {
        Tensor c = into.allocate(t.dtype(), t.shape());
        c.data().copyFrom(t.data());
        return c;
    }

    /** Distinct block ids 0..count-1 in a seeded random order (a scattered cache layout). */
    public static int[] shuffledBlocks(Random rnd, int count) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            ids.add(i);
        }
        Collections.shuffle(ids, rnd);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /** |actual − expected| ≤ tol · (1 + |expected|) element-wise, with the first mismatch reported. */
    public static void assertClose(Tensor expected, Tensor actual, double tol, String what) {
        assertEquals(expected.numel(), actual.numel(), what + ": element count");
        for (long i = 0; i < expected.numel(); i++) {
            double e = expected.getFloat(i);
            double a = actual.getFloat(i);
            if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e)))) {
                fail(what + ": element " + i + " expected " + e + " but was " + a + " (tolerance " + tol + ")");
            }
        }
    }

    public static void assertSameInts(Tensor expected, Tensor actual, String what) {
        assertArrayEquals(expected.toIntArray(), actual.toIntArray(), what);
    }

    public static void assertSameBits(Tensor expected, Tensor actual, String what) {
        assertArrayEquals(expected.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
                actual.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), what);
    }
}
