package io.shuttle.pipeline;

/** Timings of an expert pod's round phases (wait, compute, combine) for a Chrome/Perfetto trace. */
public interface RoundTrace {

    RoundTrace NONE = (phase, step, layer, microBatch, startNanos, endNanos) -> { };

    /** Phase {@code phase} of round (step, layer, micro-batch) ran from {@code startNanos} to {@code endNanos}. */
    void phase(String phase, long step, int layer, int microBatch, long startNanos, long endNanos);
}
