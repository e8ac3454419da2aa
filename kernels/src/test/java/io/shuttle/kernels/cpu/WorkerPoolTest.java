package io.shuttle.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WorkerPoolTest {

    @Test
    void everyShareRunsOncePerDispatchOverManyShortJobs() {
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            try (WorkerPool pool = new WorkerPool(3, "test-pool-")) {
                AtomicIntegerArray counts = new AtomicIntegerArray(3);
                int jobs = 20_000;
                for (int i = 0; i < jobs; i++) {
                    pool.run((worker, workers) -> counts.incrementAndGet(worker));
                    if (i % 5000 == 0) {
                        Thread.sleep(2); // let workers park, so the unpark path runs too
                    }
                }
                for (int w = 0; w < 3; w++) {
                    assertEquals(jobs, counts.get(w), "share " + w);
                }
            }
        });
    }

    @Test
    void aWorkersExceptionReachesTheCallerAndThePoolKeepsWorking() {
        try (WorkerPool pool = new WorkerPool(2, "test-pool-")) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.run((worker, workers) -> {
                if (worker == 1) {
                    throw new IllegalStateException("boom in worker 1");
                }
            }));
            assertEquals("boom in worker 1", e.getMessage());
            AtomicInteger ran = new AtomicInteger();
            pool.run((worker, workers) -> ran.incrementAndGet());
            assertEquals(2, ran.get());
        }
    }

    /**
     * Jobs of alternating share counts back to back: each share of each job runs exactly once
     * and sees its own job's count (a claim must never mix one job's count with another's word).
     */
    @Test
    void everyShareOfAlternatingShareCountsRunsOnce() {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            try (WorkerPool pool = new WorkerPool(2, "test-pool-shares-")) {
                int[] counts = {2, 13, 5, 64};
                AtomicInteger bad = new AtomicInteger();
                for (int i = 0; i < 200_000; i++) {
                    int shares = counts[i % counts.length];
                    AtomicIntegerArray ran = new AtomicIntegerArray(shares);
                    pool.run((share, total) -> {
                        if (total != shares || ran.incrementAndGet(share) != 1) {
                            bad.incrementAndGet();
                        }
                    }, shares);
                    for (int s = 0; s < shares; s++) {
                        if (ran.get(s) != 1) {
                            bad.incrementAndGet();
                        }
                    }
                }
                assertEquals(0, bad.get(), "shares run twice, never, or with another job's share count");
            }
        });
    }

    /** A worker stuck inside one job must not stop the caller from running the shares nobody claimed. */
    @Test
    void theCallerTakesSharesThatNoWorkerClaimed() {
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            try (WorkerPool pool = new WorkerPool(2, "test-pool-claim-")) {
                java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
                AtomicInteger ranByCaller = new AtomicInteger();
                Thread caller = Thread.currentThread();
                AtomicInteger ran = new AtomicInteger();
                pool.run((share, shares) -> { }); // the worker is now awake and spinning
                // A worker that claims a share blocks in it until released, so every other share
                // can only be run by the caller, which then waits for the blocked one.
                Thread releaser = Thread.ofPlatform().start(() -> {
                    while (ranByCaller.get() < 9) {
                        Thread.onSpinWait();
                    }
                    release.countDown();
                });
                pool.run((share, shares) -> {
                    ran.incrementAndGet();
                    if (Thread.currentThread() == caller) {
                        ranByCaller.incrementAndGet();
                    } else {
                        try {
                            release.await();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                }, 10);
                releaser.join();
                assertEquals(10, ran.get());
                assertTrue(ranByCaller.get() >= 9, "the caller ran " + ranByCaller.get() + " of 10 shares");
            }
        });
    }

    @Test
    void closeStopsTheThreads() {
        WorkerPool pool = new WorkerPool(3, "test-pool-close-");
        pool.run((worker, workers) -> { });
        pool.close();
        assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().startsWith("test-pool-close-")));
        assertThrows(IllegalStateException.class, () -> pool.run((worker, workers) -> { }));
    }

    @Test
    void bandwidthMeasurementReturnsAPlausibleRate() {
        double bytesPerSecond = MemoryBandwidth.measureReadBytesPerSecond(1 << 20, 2, Duration.ofMillis(50));
        assertTrue(bytesPerSecond > 1e8 && bytesPerSecond < 1e13, "bandwidth " + bytesPerSecond);
    }

    @Test
    void replayReadsEveryRegionInOrderAndRejectsNothingToRead() {
        try (Arena arena = Arena.ofShared()) { // the pool's threads read the regions
            // Odd sizes: a region need not be whole vectors, and one may repeat.
            MemorySegment a = arena.allocate(100_003, 64);
            MemorySegment b = arena.allocate(37, 16);
            MemorySegment[] regions = {a, b, a};
            for (int threads : new int[] {1, 2, 3}) {
                double bytesPerSecond = MemoryBandwidth.measureReplayBytesPerSecond(regions, threads, Duration.ofMillis(30));
                assertTrue(bytesPerSecond > 1e7 && bytesPerSecond < 1e13, threads + " threads: " + bytesPerSecond);
            }
        }
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> MemoryBandwidth.measureReplayBytesPerSecond(new MemorySegment[0], 2, Duration.ofMillis(1)));
        assertTrue(empty.getMessage().contains("region"), empty.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MemoryBandwidth.measureReplayBytesPerSecond(
                new MemorySegment[] {MemorySegment.ofArray(new byte[64])}, 0, Duration.ofMillis(1)));
    }
}
