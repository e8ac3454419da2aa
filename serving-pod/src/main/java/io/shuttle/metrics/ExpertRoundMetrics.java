package io.shuttle.metrics;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.shuttle.pipeline.RoundTrace;

/**
 * The expert side's rounds as metrics: T_e (the grouped FFN), the combine part of T_c, tokens
 * per expert, and rounds that closed without every sender. Forwards phases to {@code next}.
 */
public final class ExpertRoundMetrics implements RoundTrace {
    private final ServingMetrics m;
    private final RoundTrace next;
    private final DistributionDataPoint combine;
    /** One counter per global expert id, made on first use (ids beyond 4096 are not counted). */
    private final CounterDataPoint[] perExpert = new CounterDataPoint[4096];

    ExpertRoundMetrics(ServingMetrics metrics, RoundTrace next) {
        this.m = metrics;
        this.next = next;
        this.combine = metrics.communication.labelValues("combine");
    }

    /** Whether the current round carried rows (empty rounds from idle attention pods are not observed). */
    private boolean rows;

    @Override
    public void phase(String phase, long step, int layer, int microBatch, long startNanos, long endNanos) {
        switch (phase) {
            case "expert compute" -> {
                if (rows) {
                    m.expert.observe((endNanos - startNanos) / 1e9);
                }
            }
            case "combine" -> {
                if (rows) {
                    combine.observe((endNanos - startNanos) / 1e9);
                }
                rows = false; // the round is over
            }
            default -> { }
        }
        next.phase(phase, step, layer, microBatch, startNanos, endNanos);
    }

    @Override
    public void expertIds(int[] expertIds) {
        rows |= expertIds.length > 0;
        for (int id : expertIds) {
            if (id >= 0 && id < perExpert.length) {
                CounterDataPoint c = perExpert[id];
                if (c == null) {
                    c = perExpert[id] = m.expertTokens.labelValues(Integer.toString(id));
                }
                c.inc();
            }
        }
        next.expertIds(expertIds);
    }

    @Override
    public void missingSenders(long step, int layer, int microBatch, java.util.Set<Integer> missing) {
        m.missingSenderRounds.inc();
        next.missingSenders(step, layer, microBatch, missing);
    }
}
