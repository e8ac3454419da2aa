package io.shuttle.metrics;

import io.shuttle.engine.StepTrace;

/**
 * The attention side's pipeline phases as metrics: T_a per (layer, micro-batch), the dispatch
 * part of T_c, the round latency from dispatch to combined result, and the waits that make up
 * the bubble. Forwards every event to {@code next} (the statistics, a Chrome trace). Runs on
 * the engine thread: no allocation, one histogram observation per phase.
 */
public final class PipelineMetrics implements StepTrace {
    private static final int MAX_MICRO_BATCHES = 64;

    private final ServingMetrics m;
    private final StepTrace next;
    private final io.prometheus.metrics.core.datapoints.DistributionDataPoint dispatch;
    /** Start of each micro-batch's latest dispatch, for the round latency. */
    private final long[] dispatchStart = new long[MAX_MICRO_BATCHES];
    /**
     * Whether the current step carries tokens. Empty lockstep rounds (an idle pod keeping the
     * experts' rounds going) are not observed: they would dilute T_a, T_c and the bubble ratio
     * with idle time.
     */
    private boolean active;

    PipelineMetrics(ServingMetrics metrics, StepTrace next) {
        this.m = metrics;
        this.next = next;
        this.dispatch = metrics.communication.labelValues("dispatch");
    }

    @Override
    public void step(long step, int microBatch, int tokens) {
        // The pod is busy while any lane has tokens; lanes beyond 64 count with the last one.
        long bit = 1L << Math.min(microBatch, 63);
        busyLanes = tokens > 0 ? busyLanes | bit : busyLanes & ~bit;
        active = busyLanes != 0;
        next.step(step, microBatch, tokens);
    }

    /** Lanes whose current step has tokens (engine thread). */
    private long busyLanes;

    @Override
    public long now() {
        return System.nanoTime();
    }

    @Override
    public void attention(long step, int layer, int microBatch, long startNanos) {
        long d = System.nanoTime() - startNanos;
        if (active) {
            m.attention.observe(d / 1e9);
            m.bubbles.busy(d);
        }
        next.attention(step, layer, microBatch, startNanos);
    }

    @Override
    public void wait(long step, int layer, int microBatch, long startNanos) {
        long end = System.nanoTime();
        if (active) {
            m.stall.observe((end - startNanos) / 1e9);
            m.bubbles.waited(end - startNanos);
        }
        if (active && microBatch >= 0 && microBatch < MAX_MICRO_BATCHES && dispatchStart[microBatch] != 0) {
            m.round.observe((end - dispatchStart[microBatch]) / 1e9);
            dispatchStart[microBatch] = 0;
        }
        next.wait(step, layer, microBatch, startNanos);
    }

    @Override
    public void dispatch(long step, int layer, int microBatch, long startNanos) {
        long d = System.nanoTime() - startNanos;
        if (active) {
            dispatch.observe(d / 1e9);
            m.bubbles.busy(d);
        }
        if (microBatch >= 0 && microBatch < MAX_MICRO_BATCHES) {
            dispatchStart[microBatch] = startNanos;
        }
        next.dispatch(step, layer, microBatch, startNanos);
    }

    @Override
    public void logits(long step, int microBatch, long startNanos) {
        if (active) {
            m.bubbles.busy(System.nanoTime() - startNanos);
        }
        next.logits(step, microBatch, startNanos);
    }

    @Override
    public void boundary(Boundary phase, long step, int microBatch, long startNanos) {
        if (active) {
            m.bubbles.busy(System.nanoTime() - startNanos);
        }
        next.boundary(phase, step, microBatch, startNanos);
    }

    /** A round failed (an expert pod missing): counted with the expert side's missing-sender rounds. */
    public void roundFailed() {
        m.missingSenderRounds.inc();
    }
}
