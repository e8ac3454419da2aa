package io.shuttle.engine;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** The one-pass top-n selection against a full sort of boxed indices (the definition). */
class TopIndicesTest {

    private static int[] bySorting(float[] v, int n) {
        return IntStream.range(0, v.length).boxed()
                .sorted((a, b) -> v[a] != v[b] ? Float.compare(v[b], v[a]) : Integer.compare(a, b))
                .limit(n).mapToInt(Integer::intValue).toArray();
    }

    @Test
    void matchesAFullSortIncludingTiesAndNaN() {
        Random r = new Random(7);
        for (int trial = 0; trial < 500; trial++) {
            int len = 1 + r.nextInt(300);
            float[] v = new float[len];
            for (int i = 0; i < len; i++) {
                int kind = r.nextInt(20);
                v[i] = kind == 0 ? Float.NaN : kind == 1 ? -0.0f : kind == 2 ? 0.0f
                        : kind < 8 ? r.nextInt(5) : (float) r.nextGaussian();
            }
            for (int n : new int[] {0, 1, 5, 20, len, len + 3}) {
                assertArrayEquals(bySorting(v, n), Engine.topIndices(v, n), () -> "n=" + n + " of " + Arrays.toString(v));
            }
        }
    }
}
