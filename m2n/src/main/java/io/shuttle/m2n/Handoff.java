package io.shuttle.m2n;

import java.util.concurrent.CompletableFuture;

/**
 * Notes, on the progress thread, that a completion woke a thread blocked on the future (a
 * caller in {@code get()}). The progress loop then yields at once: where that thread shares the
 * progress thread's core (a pod pinned to one core), it runs now instead of after up to a few
 * hundred idle polls, however rarely the loop has been yielding while the core was its own.
 */
final class Handoff {
    private boolean woke;

    /** Call just before completing {@code f}. */
    void completing(CompletableFuture<?> f) {
        if (f.getNumberOfDependents() > 0) {
            woke = true;
        }
    }

    /** Whether a waiter was woken since the last call. */
    boolean take() {
        boolean w = woke;
        woke = false;
        return w;
    }
}
