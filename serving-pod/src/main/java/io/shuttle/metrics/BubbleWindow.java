package io.shuttle.metrics;

import java.util.concurrent.atomic.LongAdder;

/**
 * The share of pipeline time the attention thread spent waiting for the experts over roughly
 * the last {@code windowNanos}: the paper's bubble. Busy and waiting time accumulate in adders
 * (cheap on the engine thread); a reader compares them with a snapshot taken about one window
 * earlier, so the gauge follows the load instead of averaging over the pod's whole life.
 */
final class BubbleWindow {
    private final LongAdder busyNanos = new LongAdder();
    private final LongAdder waitNanos = new LongAdder();
    private final long windowNanos;
    // Two snapshots: the one the ratio is measured from, and the one that will replace it.
    private long[] from = {System.nanoTime(), 0, 0};
    private long[] next = from;

    BubbleWindow(long windowNanos) {
        this.windowNanos = windowNanos;
    }

    void busy(long nanos) {
        busyNanos.add(nanos);
    }

    void waited(long nanos) {
        waitNanos.add(nanos);
    }

    /** Waiting / (busy + waiting) since about one window ago; 0 when nothing ran. */
    synchronized double ratio() {
        long now = System.nanoTime();
        long[] current = {now, busyNanos.sum(), waitNanos.sum()};
        if (now - next[0] >= windowNanos) {
            from = next;
            next = current;
        }
        double busy = current[1] - from[1];
        double wait = current[2] - from[2];
        return busy + wait <= 0 ? 0 : wait / (busy + wait);
    }
}
