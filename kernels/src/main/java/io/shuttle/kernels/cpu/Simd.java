package io.shuttle.kernels.cpu;

import io.shuttle.kernels.DType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The vector species and the load/convert primitives every CPU kernel is written with.
 *
 * <p>Why the species are {@code static final} and not fields of {@link CpuBackend}: C2 only
 * intrinsifies a Vector API call when its species is a compile-time constant. With the species
 * in an instance field the same BF16 dot product ran at 0.25 GB/s instead of 7.5 GB/s (JDK 25,
 * AVX-512) because every operation fell back to the Java implementation. The width is
 * {@link FloatVector#SPECIES_PREFERRED}, i.e. what the JVM chose for this CPU (it follows
 * {@code -XX:MaxVectorSize}); nothing is read from system properties. Kernels are written once
 * against {@link #F} and its lane count, with scalar tails, so they work at every width.
 */
final class Simd {
    private Simd() {
    }

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Same lane count as {@link #F}, for widening 16-bit weights. */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    static final VectorSpecies<Integer> I = F.withLanes(int.class);
    static final int L = F.length();

    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);

    private static final float EXP_HI = 88.7228391f; // ln(Float.MAX_VALUE); above: +inf
    private static final float EXP_LO = -87.3365478515625f; // below: e^x under the smallest normal float, 0
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f; // ln 2 in two parts, so n · ln 2 is exact in the first
    private static final float LN2_LO = -2.12194440e-4f;

    /**
     * {@code s[i] = e^(s[i] − shift)} for {@code i} in {@code from..to}; returns their sum (the
     * softmax of decode attention).
     *
     * <p>e^x is computed with only arithmetic C2 turns into vector instructions (Cephes' expf:
     * x = n·ln 2 + r, |r| ≤ ln 2 / 2, a degree-6 polynomial for e^r, 2^n built in the exponent
     * bits; within 2 ulp of Math.exp), and inside the loop that uses it, never in a helper that
     * takes or returns a vector: a helper C2 does not inline (it refused this one as "too big"
     * once its C1 version existed) boxes every vector that crosses the call, and so does any
     * operation it does not intrinsify. Both happened: {@code lanewise(VectorOperators.EXP)}
     * (a native math-library call, not intrinsified inside the softmax) and
     * {@code test(IS_NAN)}, and JFR showed an attention pod allocating ~300 MB/s of boxed vectors
     * with a young GC every 0.5–2 s. Overflow gives +inf, underflow 0, NaN stays NaN (it passes
     * min/max and the arithmetic as NaN).
     */
    static float expShifted(float[] s, int from, int to, float shift) {
        int bound = from + (to - from) / L * L;
        FloatVector total = FloatVector.zero(F);
        for (int i = from; i < bound; i += L) {
            FloatVector x = FloatVector.fromArray(F, s, i).sub(shift);
            // ---- e^x (the same lines as in siluMul) ----
            FloatVector c = x.min(EXP_HI).max(EXP_LO);
            FloatVector fx = c.mul(LOG2E).add(0.5f);
            FloatVector t = ((IntVector) fx.convertShape(VectorOperators.F2I, I, 0))
                    .convertShape(VectorOperators.I2F, F, 0).reinterpretAsFloats();
            FloatVector n = t.sub(1f, t.compare(VectorOperators.GT, fx)); // floor(fx)
            FloatVector r = c.sub(n.mul(LN2_HI)).sub(n.mul(LN2_LO));
            FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
            p = p.mul(r).add(8.3334519073e-3f);
            p = p.mul(r).add(4.1665795894e-2f);
            p = p.mul(r).add(1.6666665459e-1f);
            p = p.mul(r).add(5.0000001201e-1f);
            FloatVector y = p.mul(r.mul(r)).add(r).add(1f);
            IntVector ni = (IntVector) n.convertShape(VectorOperators.F2I, I, 0); // 2^n as 2^(n/2) · 2^(n − n/2):
            IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1);                   // n runs from −126 to 128, past
            IntVector n2 = ni.sub(n1);                                             // the range of one factor
            FloatVector e = y.mul(n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats())
                    .mul(n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats())
                    .blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, EXP_HI))
                    .blend(0f, x.compare(VectorOperators.LT, EXP_LO));
            // ---- end e^x ----
            e.intoArray(s, i);
            total = total.add(e);
        }
        float sum = total.reduceLanes(VectorOperators.ADD);
        for (int i = bound; i < to; i++) {
            float e = (float) Math.exp(s[i] - shift);
            s[i] = e;
            sum += e;
        }
        return sum;
    }

    /** {@code out[i] = g / (1 + e^−g) · b[i]} with {@code g = a[i]}, for F32 elements {@code from..to} (SwiGLU). */
    static void siluMul(MemorySegment a, MemorySegment b, MemorySegment out, long from, long to) {
        long bound = from + (to - from) / L * L;
        for (long i = from; i < bound; i += L) {
            // FloatVector's own loads, not loadF32: they are force-inlined, and this method is big
            // enough that C2 stops inlining ordinary calls in it (NodeCountInliningCutoff), which
            // boxed the vectors passing through loadF32 (JFR, expert pod at steady state).
            FloatVector g = FloatVector.fromMemorySegment(F, a, i * 4, LE);
            FloatVector x = g.neg();
            // ---- e^x (the same lines as in expShifted, which says why they are not a helper) ----
            FloatVector c = x.min(EXP_HI).max(EXP_LO);
            FloatVector fx = c.mul(LOG2E).add(0.5f);
            FloatVector t = ((IntVector) fx.convertShape(VectorOperators.F2I, I, 0))
                    .convertShape(VectorOperators.I2F, F, 0).reinterpretAsFloats();
            FloatVector n = t.sub(1f, t.compare(VectorOperators.GT, fx));
            FloatVector r = c.sub(n.mul(LN2_HI)).sub(n.mul(LN2_LO));
            FloatVector p = r.fma(1.9875691500e-4f, 1.3981999507e-3f);
            p = p.mul(r).add(8.3334519073e-3f);
            p = p.mul(r).add(4.1665795894e-2f);
            p = p.mul(r).add(1.6666665459e-1f);
            p = p.mul(r).add(5.0000001201e-1f);
            FloatVector y = p.mul(r.mul(r)).add(r).add(1f);
            IntVector ni = (IntVector) n.convertShape(VectorOperators.F2I, I, 0);
            IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1);
            IntVector n2 = ni.sub(n1);
            FloatVector e = y.mul(n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats())
                    .mul(n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats())
                    .blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, EXP_HI))
                    .blend(0f, x.compare(VectorOperators.LT, EXP_LO));
            // ---- end e^x ----
            g.div(e.add(1f)).mul(FloatVector.fromMemorySegment(F, b, i * 4, LE)).intoMemorySegment(out, i * 4, LE);
        }
        for (long i = bound; i < to; i++) {
            float g = a.getAtIndex(F32, i);
            out.setAtIndex(F32, i, (float) (g / (1 + Math.exp(-g))) * b.getAtIndex(F32, i));
        }
    }

    static FloatVector loadF32(MemorySegment s, long byteOffset) {
        return FloatVector.fromMemorySegment(F, s, byteOffset, LE);
    }

    /** L bf16 values → F32: widen each 16-bit pattern and shift it into the high half. */
    static FloatVector loadBf16(MemorySegment s, long byteOffset) {
        ShortVector h = ShortVector.fromMemorySegment(S, s, byteOffset, LE);
        return ((IntVector) h.convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0))
                .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /**
     * L IEEE half values → F32 with integer arithmetic (the Vector API has no half conversion):
     * move exponent and mantissa into place and rebias the exponent; subnormal halves are rebuilt
     * as {@code 2^-14 * (1 + m/1024) - 2^-14} (exact, no denormal arithmetic), Inf/NaN get the
     * F32 maximum exponent, then the sign is restored.
     */
    static FloatVector loadF16(MemorySegment s, long byteOffset) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S, s, byteOffset, LE)
                .convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
        IntVector exponent = h.and(0x7C00);
        IntVector magnitude = h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
        VectorMask<Integer> infOrNan = exponent.eq(0x7C00);
        VectorMask<Integer> zeroOrSubnormal = exponent.eq(0);
        IntVector bits = magnitude.add(112 << 23).add(112 << 23, infOrNan);
        IntVector small = magnitude.add(113 << 23).reinterpretAsFloats().sub(0x1p-14f).reinterpretAsInts();
        bits = bits.blend(small, zeroOrSubnormal);
        return bits.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    /** One element of a weight tensor as float (scalar tails). */
    static float getFloat(DType dtype, MemorySegment s, long index) {
        return switch (dtype) {
            case F32 -> s.getAtIndex(F32, index);
            case BF16 -> Float.intBitsToFloat((s.getAtIndex(I16, index) & 0xFFFF) << 16);
            case F16 -> Float.float16ToFloat(s.getAtIndex(I16, index));
            case I32 -> throw new IllegalArgumentException("I32 is not a floating dtype");
        };
    }

    /** Converts {@code count} elements starting at element {@code from} of {@code src} into {@code dst[dstOff..]}. */
    static void toFloats(DType dtype, MemorySegment src, long from, int count, float[] dst, int dstOff) {
        int bound = count - count % L;
        int i = 0;
        switch (dtype) {
            case F32 -> {
                for (; i < bound; i += L) {
                    loadF32(src, (from + i) * 4).intoArray(dst, dstOff + i);
                }
            }
            case BF16 -> {
                for (; i < bound; i += L) {
                    loadBf16(src, (from + i) * 2).intoArray(dst, dstOff + i);
                }
            }
            case F16 -> {
                for (; i < bound; i += L) {
                    loadF16(src, (from + i) * 2).intoArray(dst, dstOff + i);
                }
            }
            case I32 -> throw new IllegalArgumentException("I32 is not a floating dtype");
        }
        for (; i < count; i++) {
            dst[dstOff + i] = getFloat(dtype, src, from + i);
        }
    }

    /** Same as {@link #toFloats(DType, MemorySegment, long, int, float[], int)} into F32 memory. */
    static void toFloats(DType dtype, MemorySegment src, long from, int count, MemorySegment dst, long dstFrom) {
        int bound = count - count % L;
        int i = 0;
        switch (dtype) {
            case F32 -> MemorySegment.copy(src, from * 4, dst, dstFrom * 4, (long) count * 4);
            case BF16 -> {
                for (; i < bound; i += L) {
                    loadBf16(src, (from + i) * 2).intoMemorySegment(dst, (dstFrom + i) * 4, LE);
                }
            }
            case F16 -> {
                for (; i < bound; i += L) {
                    loadF16(src, (from + i) * 2).intoMemorySegment(dst, (dstFrom + i) * 4, LE);
                }
            }
            case I32 -> throw new IllegalArgumentException("I32 is not a floating dtype");
        }
        if (dtype != DType.F32) {
            for (; i < count; i++) {
                dst.setAtIndex(F32, dstFrom + i, getFloat(dtype, src, from + i));
            }
        }
    }

    /** First index of part {@code part} when {@code total} items are split into {@code parts} runs aligned to {@code align}. */
    static int splitPoint(int total, int part, int parts, int align) {
        if (part >= parts) {
            return total;
        }
        long units = (total + align - 1) / align;
        long p = units * part / parts * align;
        return (int) Math.min(total, p);
    }
}
