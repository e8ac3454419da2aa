package io.shuttle.engine;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Running totals of the attention side's pipeline phases, for {@code /stats} and the pipeline
 * benchmark: time computing attention, time waiting for the experts, rounds, steps, rows.
 * Written by the engine thread, read by anyone.
 *
 * <p>Only steps with tokens count. A lockstep attention pod also runs empty steps while it is
 * idle (so expert pods can close their rounds); they are tallied apart as {@code empty_rounds}.
 * Mixed in, they made the per-round means and the round count depend on how long the pod had
 * idled before and after a request, not on the request.
 */
public final class PipelineStats implements StepTrace {
    private final LongAdder attentionNanos = new LongAdder();
    private final LongAdder waitNanos = new LongAdder();
    private final LongAdder rounds = new LongAdder();
    private final LongAdder dispatchNanos = new LongAdder();
    private final LongAdder logitsNanos = new LongAdder();
    /** Sampling, scheduling and input uploads at each lane's step boundary: attention-pod work outside the rounds. */
    private final LongAdder hostNanos = new LongAdder();
    private final LongAdder emptyRounds = new LongAdder();
    /** Whether the current step has tokens; written and read on the engine thread. */
    private volatile boolean counting = true;
    private final StepTrace next;

    /** Stats that also forward every event to {@code next} (e.g. a Chrome trace). */
    public PipelineStats(StepTrace next) {
        this.next = next;
    }

    @Override
    public void step(long step, int microBatch, int tokens) {
        // The pod is busy while any lane has tokens; lanes beyond 64 count with the last one.
        long bit = 1L << Math.min(microBatch, 63);
        busyLanes = tokens > 0 ? busyLanes | bit : busyLanes & ~bit;
        counting = busyLanes != 0;
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
        if (counting) {
            attentionNanos.add(System.nanoTime() - startNanos);
            rounds.increment();
        } else {
            emptyRounds.increment();
        }
        next.attention(step, layer, microBatch, startNanos);
    }

    @Override
    public void wait(long step, int layer, int microBatch, long startNanos) {
        if (counting) {
            waitNanos.add(System.nanoTime() - startNanos);
        }
        next.wait(step, layer, microBatch, startNanos);
    }

    @Override
    public void dispatch(long step, int layer, int microBatch, long startNanos) {
        if (counting) {
            dispatchNanos.add(System.nanoTime() - startNanos);
        }
        next.dispatch(step, layer, microBatch, startNanos);
    }

    @Override
    public void logits(long step, int microBatch, long startNanos) {
        logitsNanos.add(System.nanoTime() - startNanos);
        next.logits(step, microBatch, startNanos);
    }

    @Override
    public void boundary(Boundary phase, long step, int microBatch, long startNanos) {
        if (counting) {
            hostNanos.add(System.nanoTime() - startNanos);
        }
        next.boundary(phase, step, microBatch, startNanos);
    }

    public Map<String, Object> snapshot() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rounds", rounds.sum());
        m.put("attention_ns", attentionNanos.sum());
        m.put("wait_ns", waitNanos.sum());
        m.put("dispatch_ns", dispatchNanos.sum());
        m.put("logits_ns", logitsNanos.sum());
        m.put("host_ns", hostNanos.sum());
        m.put("empty_rounds", emptyRounds.sum());
        m.put("jit_compile_ms", jitCompileMillis());
        m.put("time_ns", System.nanoTime());
        return m;
    }

    /**
     * Milliseconds this JVM's JIT compilers have spent so far (-1 if the JVM does not say): a
     * benchmark is in steady state only once this stops growing, because on a pinned core the
     * compiler threads share the core with the compute thread, and code still waiting for C2
     * runs several times slower.
     */
    public static long jitCompileMillis() {
        java.lang.management.CompilationMXBean jit = java.lang.management.ManagementFactory.getCompilationMXBean();
        return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : -1;
    }
}
