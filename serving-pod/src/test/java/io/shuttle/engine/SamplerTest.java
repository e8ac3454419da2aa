package io.shuttle.engine;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {

    private static MemorySegment logits(Arena arena, float... values) {
        MemorySegment s = arena.allocate((long) values.length * Float.BYTES);
        MemorySegment.copy(values, 0, s, ValueLayout.JAVA_FLOAT, 0, values.length);
        return s;
    }

    @Test
    void greedyTiesGoToTheLowestId() {
        try (Arena arena = Arena.ofConfined()) {
            Sampler s = new Sampler(5);
            assertEquals(1, s.argmax(logits(arena, 0f, 3f, 1f, 3f, -2f), 0));
            assertEquals(2, s.argmax(logits(arena, 0f, 1f, 0f, 0f, 0f, /* row 1 */ 0f, 1f, 4f, 4f, 0f), 1));
        }
    }

    @Test
    void seededSamplingIsReproducibleAndFollowsTheSoftmax() {
        float[] l = {1f, 2f, 0f, 3f};
        double[] p = new double[4];
        double z = 0;
        for (int i = 0; i < 4; i++) {
            z += Math.exp(l[i]);
        }
        for (int i = 0; i < 4; i++) {
            p[i] = Math.exp(l[i]) / z;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = logits(arena, l);
            Sampler s = new Sampler(4);
            SamplingParams params = new SamplingParams(1f, 1f, 0, 7, 1, false);
            int n = 40_000;
            int[] counts = new int[4];
            SplittableRandom r1 = new SplittableRandom(7);
            SplittableRandom r2 = new SplittableRandom(7);
            for (int i = 0; i < n; i++) {
                int a = s.sample(seg, 0, params, r1);
                assertEquals(a, s.sample(seg, 0, params, r2), "same seed, same draw");
                counts[a]++;
            }
            for (int i = 0; i < 4; i++) {
                double freq = counts[i] / (double) n;
                // 5 standard deviations of a binomial proportion.
                double sd = Math.sqrt(p[i] * (1 - p[i]) / n);
                assertTrue(Math.abs(freq - p[i]) < 5 * sd + 1e-4, "token " + i + ": " + freq + " vs " + p[i]);
            }
        }
    }

    @Test
    void topKAndTopPRestrictTheCandidates() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = logits(arena, 1f, 2f, 0f, 3f, 2.5f);
            Sampler s = new Sampler(5);
            SplittableRandom r = new SplittableRandom(1);
            for (int i = 0; i < 500; i++) {
                assertEquals(3, s.sample(seg, 0, new SamplingParams(1f, 1f, 1, 0, 1, false), r), "top-k 1 is greedy");
                assertEquals(3, s.sample(seg, 0, new SamplingParams(5f, 0.01f, 0, 0, 1, false), r), "tiny top-p is greedy");
                int two = s.sample(seg, 0, new SamplingParams(1f, 1f, 2, 0, 1, false), r);
                assertTrue(two == 3 || two == 4, "top-k 2 drew " + two);
            }
            // A high temperature over five tokens reaches more than one of them.
            int first = s.sample(seg, 0, new SamplingParams(100f, 1f, 0, 0, 1, false), r);
            boolean other = false;
            for (int i = 0; i < 200 && !other; i++) {
                other = s.sample(seg, 0, new SamplingParams(100f, 1f, 0, 0, 1, false), r) != first;
            }
            assertTrue(other);
            assertNotEquals(0, first + 1);
        }
    }

    @Test
    void invalidParametersAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(-1f, 1f, 0, 0, 1, false));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(Float.NaN, 1f, 0, 0, 1, false));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1f, 0f, 0, 0, 1, false));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1f, 1f, -1, 0, 1, false));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1f, 1f, 0, 0, 0, false));
    }
}
