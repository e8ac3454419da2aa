package io.shuttle.engine;

import io.shuttle.reference.SafetensorsWriter;
import io.shuttle.reference.TestCheckpoints;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The server-side loop: results through futures, bad input at once, a cancelled request frees its KV blocks. */
class EngineLoopTest {

    @Test
    void servesRequestsAndFreesACancelledOne(@TempDir Path dir) throws Exception {
        TestCheckpoints.write(dir, TestCheckpoints.GQA, 5, SafetensorsWriter.DType.F32);
        int[] prompt = {3, 9, 27, 81};
        try (EngineFixture f = new EngineFixture(dir)) {
            int[] expected = f.engine.generate(java.util.List.of(prompt), SamplingParams.greedy(5, true), false)
                    .get(0).generatedIds();
            try (EngineLoop loop = new EngineLoop(f.engine, false, Duration.ofMillis(5), Duration.ofMillis(50)).start()) {
                GenerationResult r = loop.submit(prompt, SamplingParams.greedy(5, true), false).get(30, TimeUnit.SECONDS);
                assertArrayEquals(expected, r.generatedIds());

                assertThrows(IllegalArgumentException.class,
                        () -> loop.submit(new int[] {1, 100_000}, SamplingParams.greedy(2, true), false));

                // How long a full 250-token request takes here, then the same one cancelled right away.
                long full = Long.MAX_VALUE;
                for (int warm = 0; warm < 3; warm++) { // the first runs include JIT compilation
                    long t0 = System.nanoTime();
                    loop.submit(prompt, SamplingParams.greedy(250, true), false).get(60, TimeUnit.SECONDS);
                    full = Math.min(full, System.nanoTime() - t0);
                }
                CompletableFuture<GenerationResult> longOne = loop.submit(prompt, SamplingParams.greedy(250, true), false);
                long admitted = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (f.engine.allocator().freeBlocks() == f.engine.allocator().totalBlocks()
                        && System.nanoTime() < admitted) {
                    Thread.onSpinWait(); // until it runs and holds KV blocks
                }
                assertTrue(f.engine.allocator().freeBlocks() < f.engine.allocator().totalBlocks(), "never admitted");
                long t1 = System.nanoTime();
                longOne.cancel(true);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (f.engine.allocator().freeBlocks() != f.engine.allocator().totalBlocks()
                        && System.nanoTime() < deadline) {
                    Thread.sleep(1);
                }
                long freedAfter = System.nanoTime() - t1;
                assertEquals(f.engine.allocator().totalBlocks(), f.engine.allocator().freeBlocks(),
                        "the cancelled request's KV blocks are back");
                assertTrue(freedAfter < full / 2, "a cancelled request must stop early (freed after " + freedAfter / 1e6
                        + " ms; a full run takes " + full / 1e6 + " ms)");
                assertTrue(loop.isRunning());
            }
        }
    }
}
