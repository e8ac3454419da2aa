package io.shuttle.kernels;

/** bfloat16 conversions: the upper 16 bits of an IEEE float32. */
public final class Bf16 {
    private Bf16() {
    }

    /** float32 → bfloat16 bits with round-to-nearest-even (as PyTorch does); NaN stays NaN. */
    public static short fromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static float toFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }
}
