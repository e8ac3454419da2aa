package io.shuttle.pipeline;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SpinWaitTest {
    private static final long MS = 1_000_000;

    @Test
    void startsAtTheMinimumWindow() {
        SpinWait w = new SpinWait();
        assertEquals(SpinWait.MIN_NANOS, w.windowNanos(System.nanoTime()));
    }

    @Test
    void windowFollowsRecentWaitsDuringAStreak() {
        SpinWait w = new SpinWait();
        long t = 1_000 * MS;
        for (int i = 0; i < 60; i++) { // rounds of 5 ms, each wait starting 3 ms after the last ended
            t += 3 * MS;
            w.end(t, t + 5 * MS);
            t += 5 * MS;
        }
        long window = w.windowNanos(t + 3 * MS);
        assertTrue(window > 9 * MS && window <= 10 * MS, "about twice the 5 ms waits, got " + window);
    }

    @Test
    void windowIsCappedAndLongWaitsDoNotCount() {
        SpinWait w = new SpinWait();
        long t = 1_000 * MS;
        for (int i = 0; i < 60; i++) {
            w.end(t, t + 15 * MS); // 2 × 15 ms is past the cap
            t += 16 * MS;
        }
        assertEquals(SpinWait.MAX_NANOS, w.windowNanos(t));
        SpinWait idle = new SpinWait();
        idle.end(t, t + 5_000 * MS); // an idle wait of 5 s: not a round
        assertEquals(SpinWait.MIN_NANOS, idle.windowNanos(t + 5_000 * MS));
    }

    @Test
    void aWaitLongAfterTheLastOneGetsTheMinimumWindow() {
        SpinWait w = new SpinWait();
        long t = 1_000 * MS;
        for (int i = 0; i < 60; i++) {
            w.end(t, t + 8 * MS);
            t += 9 * MS;
        }
        assertTrue(w.windowNanos(t) > SpinWait.MIN_NANOS);
        assertEquals(SpinWait.MIN_NANOS, w.windowNanos(t + 1_000 * MS), "no streak after an idle second");
    }

    @Test
    void returnsAtOnceForACompletedFutureAndStopsYieldingAtTheWindow() {
        SpinWait w = new SpinWait();
        long t0 = System.nanoTime();
        w.begin(CompletableFuture.completedFuture(1));
        CompletableFuture<Integer> never = new CompletableFuture<>();
        w.begin(never);
        long took = System.nanoTime() - t0;
        assertTrue(took >= SpinWait.MIN_NANOS && took < 1_000 * MS, "yields one minimum window, took " + took);
    }
}
