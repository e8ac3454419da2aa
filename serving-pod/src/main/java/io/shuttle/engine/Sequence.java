package io.shuttle.engine;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * One request being generated. vLLM's counter model: {@code known} tokens exist (prompt plus
 * generated), {@code computed} of them are in the KV cache; every step schedules some of the
 * difference, so prefill, chunked prefill, decode and recompute after preemption are one rule.
 * Tokens change only through {@link #append}; only the scheduler mutates a sequence.
 */
public final class Sequence {
    final BlockTable blocks = new BlockTable();
    final SplittableRandom random;
    /** Set when the scheduler first admits it: later it only comes back to waiting by preemption. */
    boolean everAdmitted;
    /** The pipeline lane (micro-batch) it runs in while running, -1 while waiting. */
    int lane = -1;
    private final Request request;
    private final long admissionOrder;
    private final int promptLength;
    private final int[] tokens;
    private int known;
    private int computed;
    private FinishReason finishReason;

    Sequence(Request request, long admissionOrder) {
        this.request = request;
        this.admissionOrder = admissionOrder;
        int[] prompt = request.prompt();
        this.promptLength = prompt.length;
        this.tokens = Arrays.copyOf(prompt, prompt.length + request.params().maxTokens());
        this.known = prompt.length;
        this.random = new SplittableRandom(request.params().seed());
    }

    public Request request() {
        return request;
    }

    public String id() {
        return request.id();
    }

    long admissionOrder() {
        return admissionOrder;
    }

    int[] tokens() {
        return tokens;
    }

    public int known() {
        return known;
    }

    public int computed() {
        return computed;
    }

    void markComputed(int count) {
        computed += count;
    }

    /** Preemption by recompute: the cache entries are gone, everything known is prefilled again. */
    void resetComputed() {
        computed = 0;
    }

    public int promptLength() {
        return promptLength;
    }

    public int generatedCount() {
        return known - promptLength;
    }

    void append(int token) {
        tokens[known++] = token;
    }

    public boolean isFinished() {
        return finishReason != null;
    }

    void finish(FinishReason reason) {
        finishReason = reason;
    }

    public FinishReason finishReason() {
        return finishReason;
    }

    public int[] prompt() {
        return Arrays.copyOf(tokens, promptLength);
    }

    public int[] generated() {
        return Arrays.copyOfRange(tokens, promptLength, known);
    }
}
