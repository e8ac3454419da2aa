package io.shuttle.engine;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * One sequence being generated. vLLM's counter model: {@code known} tokens exist (prompt plus
 * generated), {@code computed} of them are in the KV cache; every step schedules some of the
 * difference, so prefill, chunked prefill and decode are one rule. Tokens change only through
 * {@link #append}.
 */
final class Sequence {
    final int index;
    final BlockTable blocks = new BlockTable();
    final SplittableRandom random;
    private final int promptLength;
    private final int[] tokens;
    private int known;
    private int computed;
    private FinishReason finishReason;

    Sequence(int index, int[] prompt, int maxTokens, long seed) {
        this.index = index;
        this.promptLength = prompt.length;
        this.tokens = Arrays.copyOf(prompt, prompt.length + maxTokens);
        this.known = prompt.length;
        this.random = new SplittableRandom(seed);
    }

    int[] tokens() {
        return tokens;
    }

    int known() {
        return known;
    }

    int computed() {
        return computed;
    }

    void markComputed(int count) {
        computed += count;
    }

    int promptLength() {
        return promptLength;
    }

    int generatedCount() {
        return known - promptLength;
    }

    void append(int token) {
        tokens[known++] = token;
    }

    boolean isFinished() {
        return finishReason != null;
    }

    void finish(FinishReason reason) {
        finishReason = reason;
    }

    FinishReason finishReason() {
        return finishReason;
    }

    int[] prompt() {
        return Arrays.copyOf(tokens, promptLength);
    }

    int[] generated() {
        return Arrays.copyOfRange(tokens, promptLength, known);
    }
}
