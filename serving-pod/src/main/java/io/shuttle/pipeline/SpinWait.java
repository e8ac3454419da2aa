package io.shuttle.pipeline;

import java.util.concurrent.CompletableFuture;

/**
 * Waiting for a round by yielding in a loop for a short while before blocking. A pod's compute
 * thread that blocks while its reply is a fraction of a millisecond away lets its core go idle;
 * on a virtual machine an idle vCPU halts, and the message that ends the wait must first wake it
 * (a VM exit and an interrupt), then wake the progress thread, which wakes the blocked thread:
 * together 100–150 µs per round trip between pinned pods (T_c in docs/BENCHMARKS.md). Yielding keeps
 * the core running and hands it to the progress thread whenever that has work.
 */
final class SpinWait {
    /** Long enough for the gap between two micro-batches' rounds, short enough that an idle pod costs little. */
    static final long SPIN_NANOS = 2_000_000;

    private SpinWait() {
    }

    /** Yields until {@code f} completes or {@code spinNanos} pass; the caller then gets (or blocks on) it. */
    static void spin(CompletableFuture<?> f, long spinNanos) {
        if (f.isDone()) {
            return;
        }
        long end = System.nanoTime() + spinNanos;
        while (!f.isDone() && System.nanoTime() - end < 0) {
            Thread.yield();
        }
    }
}
