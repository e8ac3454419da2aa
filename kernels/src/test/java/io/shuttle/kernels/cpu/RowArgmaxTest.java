package io.shuttle.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class RowArgmaxTest {

    private static MemorySegment row(Arena arena, float... values) {
        MemorySegment s = arena.allocate((long) values.length * Float.BYTES + 8);
        MemorySegment.copy(values, 0, s, ValueLayout.JAVA_FLOAT_UNALIGNED, 4, values.length); // unaligned on purpose
        return s;
    }

    /** An independent reference: a plain array loop with the documented rule. */
    private static int reference(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    @Test
    void agreesWithThePlainLoopOnRandomRowsOfEveryLength() {
        SplittableRandom r = new SplittableRandom(7);
        try (Arena arena = Arena.ofConfined()) {
            for (int n = 1; n <= 100; n++) {
                for (int trial = 0; trial < 20; trial++) {
                    float[] v = new float[n];
                    for (int i = 0; i < n; i++) {
                        // Few distinct values, so ties are common and the first one must win.
                        v[i] = trial % 2 == 0 ? (float) r.nextGaussian() : r.nextInt(4) - 2;
                    }
                    assertEquals(reference(v), RowArgmax.argmax(row(arena, v), 4, n), "n=" + n + " trial=" + trial);
                }
            }
            float[] vocab = new float[32000];
            for (int i = 0; i < vocab.length; i++) {
                vocab[i] = (float) r.nextGaussian();
            }
            vocab[31999] = 100f;
            assertEquals(31999, RowArgmax.argmax(row(arena, vocab), 4, vocab.length));
        }
    }

    @Test
    void tiesSignedZerosInfinitiesAndNaNsFollowTheScalarRule() {
        try (Arena arena = Arena.ofConfined()) {
            float[] zeros = new float[40];
            zeros[0] = -0f;
            zeros[33] = 0f;
            assertEquals(0, RowArgmax.argmax(row(arena, zeros), 4, zeros.length), "+0 and -0 tie: the first wins");
            float[] ninf = new float[37];
            java.util.Arrays.fill(ninf, Float.NEGATIVE_INFINITY);
            assertEquals(0, RowArgmax.argmax(row(arena, ninf), 4, ninf.length));
            ninf[36] = Float.POSITIVE_INFINITY;
            assertEquals(36, RowArgmax.argmax(row(arena, ninf), 4, ninf.length));
            float[] nan = new float[50];
            nan[3] = 5f;
            nan[20] = Float.NaN;
            assertEquals(3, RowArgmax.argmax(row(arena, nan), 4, nan.length), "a NaN after the first element is ignored");
            assertEquals(reference(nan), RowArgmax.argmax(row(arena, nan), 4, nan.length));
            nan[0] = Float.NaN;
            assertEquals(0, RowArgmax.argmax(row(arena, nan), 4, nan.length), "a leading NaN wins, as in the loop");
            assertThrows(IllegalArgumentException.class, () -> RowArgmax.argmax(row(arena, 1f), 4, 0));
        }
    }
}
