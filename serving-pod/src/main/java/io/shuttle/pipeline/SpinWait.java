package io.shuttle.pipeline;

import io.shuttle.m2n.M2nNode;

import java.util.concurrent.CompletableFuture;

/**
 * Waiting for a round by yielding in a loop for a while before blocking. A pod's compute
 * thread that blocks while its reply is a fraction of a millisecond away lets its core go idle;
 * on a virtual machine an idle vCPU halts, and the message that ends the wait must first wake it
 * (a VM exit and an interrupt), then wake the progress thread, which wakes the blocked thread:
 * together 100–150 µs per round trip between pinned pods on one VM, 300–800 µs on another
 * (T_c in docs/BENCHMARKS.md). Yielding keeps the core running and hands it to the progress
 * thread whenever that has work.
 *
 * <p>How long to yield adapts to the pod's recent waits: twice their running mean, at least
 * {@link #MIN_NANOS} and at most {@link #MAX_NANOS}. A fixed 2 ms was right where a round
 * takes a millisecond, but on a slower machine (rounds of 3–7 ms at m = 1 on a 2-core AVX2 VM)
 * every wait outlasted it and paid the wake-up anyway. Waits longer than {@link #MAX_NANOS}
 * (an idle cluster, a failing peer) do not count, and a wait that starts long after the last
 * one ended (no pipeline streak) yields only {@link #MIN_NANOS}, so an idle pod costs as before.
 * One instance per waiting thread; the fields are volatile only so that a stray second thread
 * reads whole values.
 */
final class SpinWait {
    /** The shortest window: the gap between two micro-batches' rounds on a fast machine. */
    static final long MIN_NANOS = 2_000_000;
    /** The longest window, and the longest wait that counts as a pipeline round. */
    static final long MAX_NANOS = 20_000_000;

    /** Running mean of recent waits (1/8 weight for the newest). */
    private volatile long meanWaitNanos = MIN_NANOS / 2;
    /** When the last counted wait ended; 0 before any. */
    private volatile long lastEndNanos;
    private volatile boolean ended;

    /**
     * Yields until {@code f} completes or the window passes; the caller then gets (or blocks on)
     * it and reports {@link #end} with the returned start time when it completed normally.
     */
    long begin(CompletableFuture<?> f) {
        long start = System.nanoTime();
        if (f.isDone()) {
            return start;
        }
        long stop = start + windowNanos(start);
        while (!f.isDone() && System.nanoTime() - stop < 0) {
            Thread.yield();
        }
        return start;
    }

    /**
     * {@link #begin(CompletableFuture)}, driving {@code node}'s progress on this thread for the
     * window instead of yielding to its progress thread ({@link M2nNode#driveUntil}).
     */
    long begin(CompletableFuture<?> f, M2nNode node) {
        long start = System.nanoTime();
        if (!f.isDone()) {
            node.driveUntil(f, windowNanos(start));
        }
        return start;
    }

    /** The wait begun at {@code start} (by {@link #begin}) has completed now. */
    void end(long start) {
        end(start, System.nanoTime());
    }

    void end(long start, long now) {
        long waited = now - start;
        if (waited >= 0 && waited <= MAX_NANOS) {
            long mean = meanWaitNanos;
            meanWaitNanos = mean + (waited - mean) / 8;
        }
        lastEndNanos = now;
        ended = true;
    }

    /** How long a wait starting at {@code now} yields before blocking. */
    long windowNanos(long now) {
        boolean streak = ended && now - lastEndNanos < MAX_NANOS;
        return streak ? Math.clamp(2 * meanWaitNanos, MIN_NANOS, MAX_NANOS) : MIN_NANOS;
    }
}
