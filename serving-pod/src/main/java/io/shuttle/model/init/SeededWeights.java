package io.shuttle.model.init;

import io.shuttle.kernels.Bf16;
import io.shuttle.kernels.DType;
import io.shuttle.model.MixtralLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Deterministic random weights. Each tensor draws from its own generator seeded from (seed,
 * tensor name), so values do not depend on generation order, sharding or dtype; a bf16/f16 file
 * holds the f32 values rounded to nearest even. Same seed, same JDK → byte-identical files.
 *
 * <p>Scales keep a forward pass well-conditioned, so logits and routing are not degenerate:
 * embeddings N(0, 1); norms 1 + 0.1·N(0, 1); linear layers N(0, 1/√in) (unit-variance outputs for
 * unit-RMS inputs); router and lm_head N(0, 2/√in), wider, so expert choice and greedy argmax are
 * clear-cut rather than near ties.
 */
final class SeededWeights {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;

    private SeededWeights() {
    }

    /** The generator for one tensor. */
    static SplittableRandom random(long seed, String tensorName) {
        long h = 0xcbf29ce484222325L;   // FNV-1a over the UTF-8 name
        for (byte b : tensorName.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xFF)) * 0x100000001b3L;
        }
        return new SplittableRandom(mix64(seed * 0x9E3779B97F4A7C15L + h));
    }

    /** Fills {@code out} with the tensor's values in {@code dtype}. */
    static void fill(MixtralLayout.Expected tensor, long seed, DType dtype, MemorySegment out) {
        SplittableRandom rnd = random(seed, tensor.name());
        float mean = mean(tensor.role());
        float std = std(tensor);
        long n = tensor.numel();
        for (long i = 0; i < n; i++) {
            float v = (float) (mean + std * rnd.nextGaussian());
            switch (dtype) {
                case F32 -> out.setAtIndex(F32, i, v);
                case BF16 -> out.setAtIndex(I16, i, Bf16.fromFloat(v));
                case F16 -> out.setAtIndex(I16, i, Float.floatToFloat16(v));
                case I32 -> throw new IllegalArgumentException("weights cannot be I32");
            }
        }
    }

    /** The tensor's values in f32, as {@link #fill} draws them (tests, small tensors). */
    static float[] values(MixtralLayout.Expected tensor, long seed) {
        SplittableRandom rnd = random(seed, tensor.name());
        float mean = mean(tensor.role());
        float std = std(tensor);
        float[] out = new float[Math.toIntExact(tensor.numel())];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (mean + std * rnd.nextGaussian());
        }
        return out;
    }

    private static float mean(MixtralLayout.Role role) {
        return role == MixtralLayout.Role.NORM ? 1f : 0f;
    }

    private static float std(MixtralLayout.Expected t) {
        return switch (t.role()) {
            case EMBEDDING -> 1f;
            case NORM -> 0.1f;
            case LINEAR -> (float) (1 / Math.sqrt(t.inFeatures()));
            case ROUTER, LM_HEAD -> (float) (2 / Math.sqrt(t.inFeatures()));
        };
    }

    /** Stafford's variant 13 of the MurmurHash3 finaliser: spreads the bits of the combined seed. */
    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
