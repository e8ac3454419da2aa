package io.shuttle.engine;

/**
 * How to pick each next token, and when to stop.
 *
 * @param temperature 0 for greedy (ties to the lowest id); otherwise logits are divided by it
 * @param topP        nucleus mass in (0, 1]; 1 disables
 * @param topK        keep only the k most likely tokens; 0 disables
 * @param seed        seed of the per-sequence random streams (sequence i uses seed + i)
 * @param maxTokens   tokens to generate per sequence
 * @param ignoreEos   keep generating after the end-of-sequence token
 */
public record SamplingParams(float temperature, float topP, int topK, long seed, int maxTokens, boolean ignoreEos) {

    public SamplingParams {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number ≥ 0, got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be ≥ 0 (0 disables it), got " + topK);
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max tokens must be ≥ 1, got " + maxTokens);
        }
    }

    public static SamplingParams greedy(int maxTokens, boolean ignoreEos) {
        return new SamplingParams(0f, 1f, 0, 0L, maxTokens, ignoreEos);
    }

    /** The same parameters with another seed. */
    public SamplingParams withSeed(long newSeed) {
        return new SamplingParams(temperature, topP, topK, newSeed, maxTokens, ignoreEos);
    }

    public boolean isGreedy() {
        return temperature == 0f;
    }
}
