package io.shuttle.pipeline;

/** Timings of an expert pod's round phases (wait, compute, combine) for a Chrome/Perfetto trace. */
public interface RoundTrace {

    RoundTrace NONE = (phase, step, layer, microBatch, startNanos, endNanos) -> { };

    /** Phase {@code phase} of round (step, layer, micro-batch) ran from {@code startNanos} to {@code endNanos}. */
    void phase(String phase, long step, int layer, int microBatch, long startNanos, long endNanos);

    /** A sender's rows of a round arrived with these expert ids ({@code rows × topK}, -1 for slots not on this pod). */
    default void expertIds(int[] expertIds) {
    }

    /** A round closed without every sender. */
    default void missingSenders(long step, int layer, int microBatch, java.util.Set<Integer> missing) {
    }
}
