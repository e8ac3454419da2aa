package io.shuttle.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The vector e^x (softmax and SiLU) against Math.exp (float64, rounded) over the whole float range it covers. */
class SimdExpTest {

    private static float[] exp(float[] x) {
        float[] out = x.clone();
        float sum = Simd.expShifted(out, 0, out.length, 0f);
        double want = 0;
        for (float v : out) {
            want += v;
        }
        assertTrue(Float.isNaN(sum) || Math.abs(sum - want) <= 1e-5 * Math.abs(want) || Float.isInfinite(sum),
                "the returned sum " + sum + " is the sum of the values, " + want);
        return out;
    }

    @Test
    void withinTwoUlpsOfMathExpWhereverTheResultIsANormalFloat() {
        Random r = new Random(3);
        float[] x = new float[Simd.L * 4096];
        for (int i = 0; i < x.length; i++) {
            x[i] = i % 3 == 0 ? (float) (r.nextDouble() * 176 - 87.3) : (float) (r.nextGaussian() * 4);
        }
        x[0] = 0f;
        x[1] = -87.33f;
        x[2] = 88.37f;
        x[3] = 1e-8f;
        float[] e = exp(x);
        for (int i = 0; i < x.length; i++) {
            float want = (float) Math.exp(x[i]);
            assertTrue(Math.abs(e[i] - want) <= 2 * Math.ulp(want), "e^" + x[i] + ": " + e[i] + ", Math.exp " + want);
        }
    }

    @Test
    void overflowUnderflowAndNaN() {
        float[] x = new float[Simd.L];
        java.util.Arrays.fill(x, 1f);
        x[0] = 89f;
        x[1] = Float.POSITIVE_INFINITY;
        x[2] = -90f;
        x[3] = Float.NEGATIVE_INFINITY;
        if (Simd.L > 4) {
            x[4] = Float.NaN;
        }
        float[] e = exp(x);
        assertEquals(Float.POSITIVE_INFINITY, e[0]);
        assertEquals(Float.POSITIVE_INFINITY, e[1]);
        assertEquals(0f, e[2]);
        assertEquals(0f, e[3], "softmax over a masked (−∞) score gives exactly 0");
        if (Simd.L > 4) {
            assertTrue(Float.isNaN(e[4]));
        }
    }
}
