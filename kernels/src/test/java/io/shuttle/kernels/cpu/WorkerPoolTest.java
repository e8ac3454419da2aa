package io.shuttle.kernels.cpu;

import org.junit.jupiter.api.Test;

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
}
