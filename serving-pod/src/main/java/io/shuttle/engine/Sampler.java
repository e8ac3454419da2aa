package io.shuttle.engine;

import io.shuttle.kernels.cpu.RowArgmax;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from one row of logits: greedy (ties to the lowest id), or seeded
 * sampling with temperature, top-k and top-p applied in that order (as vLLM and HF do).
 * Scratch arrays are allocated once per vocabulary size; one sampler per engine thread.
 */
public final class Sampler {
    private final int vocab;
    private final float[] scaled;
    private final long[] order;

    public Sampler(int vocab) {
        this.vocab = vocab;
        this.scaled = new float[vocab];
        this.order = new long[vocab];
    }

    /** Greedy choice over row {@code row} of {@code logits} ([rows, vocab] F32): the lowest id of the largest logit. */
    public int argmax(MemorySegment logits, int row) {
        return RowArgmax.argmax(logits, (long) row * vocab * Float.BYTES, vocab);
    }

    public int sample(MemorySegment logits, int row, SamplingParams params, SplittableRandom random) {
        if (params.isGreedy()) {
            return argmax(logits, row);
        }
        long base = (long) row * vocab;
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            scaled[i] = logits.getAtIndex(ValueLayout.JAVA_FLOAT, base + i) / params.temperature();
            max = Math.max(max, scaled[i]);
        }
        // Softmax numerators; then order candidates by probability (descending, ties to lower id).
        for (int i = 0; i < vocab; i++) {
            float p = (float) Math.exp(scaled[i] - max);
            scaled[i] = p;
            // Positive floats order like their bits; ~i makes the lower id sort later, i.e. first when read backwards.
            order[i] = ((long) Float.floatToRawIntBits(p) << 32) | (~i & 0xFFFFFFFFL);
        }
        Arrays.sort(order);
        int keep = params.topK() > 0 ? Math.min(params.topK(), vocab) : vocab;
        double keptMass = 0;
        for (int j = 0; j < keep; j++) {
            keptMass += scaled[idAt(vocab - 1 - j)];
        }
        if (params.topP() < 1f) {
            double cumulative = 0;
            int cut = 0;
            while (cut < keep) {
                cumulative += scaled[idAt(vocab - 1 - cut)] / keptMass;
                cut++;
                if (cumulative >= params.topP()) {
                    break;
                }
            }
            keptMass = 0;
            for (int j = 0; j < cut; j++) {
                keptMass += scaled[idAt(vocab - 1 - j)];
            }
            keep = cut;
        }
        double u = random.nextDouble() * keptMass;
        double acc = 0;
        for (int j = 0; j < keep; j++) {
            int id = idAt(vocab - 1 - j);
            acc += scaled[id];
            if (u < acc) {
                return id;
            }
        }
        return idAt(vocab - 1 - (keep - 1));
    }

    private int idAt(int sortedIndex) {
        return ~(int) order[sortedIndex];
    }
}
