package io.shuttle.serve;

import io.shuttle.engine.Engine;
import io.shuttle.engine.EngineLoop;
import io.shuttle.engine.EngineOptions;
import io.shuttle.engine.GenerationResult;
import io.shuttle.engine.SamplingParams;
import io.shuttle.kernels.cpu.CpuBackend;
import io.shuttle.model.Checkpoint;
import io.shuttle.reference.SafetensorsWriter;
import io.shuttle.reference.TestCheckpoints;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The attention pod's warm-up before readiness: its batch shape, that it ends (settled, at its
 * limit, or failed) within a bounded time whatever happens, and that it leaves the engine as it
 * found it (no KV blocks held, the same greedy ids afterwards).
 */
class PodWarmupTest {
    @TempDir
    static Path dir;
    static final EngineOptions OPTIONS = new EngineOptions(64, 8, 128, 16, 256);
    static final int[] PROMPT = {5, 17, 40, 99, 3, 250};

    @BeforeAll
    static void model() {
        TestCheckpoints.write(dir, TestCheckpoints.GQA, 11, SafetensorsWriter.DType.F32);
    }

    @Test
    void theBatchRunsAtFullWidthAndFillsAPrefillChunkWithinTheKvCache() {
        PodWarmup.Shape s = PodWarmup.shape(new EngineOptions(256, 64, 2048, 16, 2048), 32_000);
        assertEquals(new PodWarmup.Shape(64, 8, 16), s);
        assertTrue(s.sequences() * s.promptTokens() >= 256, "the prompts fill a whole prefill chunk");

        // Wide chunks, few sequences: longer prompts.
        assertEquals(new PodWarmup.Shape(4, 129, 16), PodWarmup.shape(new EngineOptions(512, 4, 2048, 16, 2048), 100));
        // A small KV cache: at most half of it, whole blocks per sequence (8 + 16 tokens = 2 blocks).
        assertEquals(new PodWarmup.Shape(5, 8, 16), PodWarmup.shape(new EngineOptions(256, 64, 20, 16, 2048), 100));
        // Short sequences allowed: prompt and generation within the longest sequence.
        PodWarmup.Shape shortOnes = PodWarmup.shape(new EngineOptions(256, 64, 2048, 16, 10), 100);
        assertEquals(new PodWarmup.Shape(64, 5, 5), shortOnes);
        // Never nothing: one sequence of one token even in a cache of one block.
        PodWarmup.Shape tiny = PodWarmup.shape(new EngineOptions(1, 1, 1, 16, 2), 100);
        assertEquals(new PodWarmup.Shape(1, 1, 1), tiny);
    }

    @Test
    void itSettlesAndLeavesTheEngineAsItFoundIt() throws Exception {
        int[] expected;
        try (Checkpoint ckpt = Checkpoint.open(dir); CpuBackend backend = new CpuBackend(2);
             Engine engine = new Engine(ckpt, backend, OPTIONS)) {
            expected = engine.generate(List.of(PROMPT), SamplingParams.greedy(8, true), false).get(0).generatedIds();
        }
        try (Checkpoint ckpt = Checkpoint.open(dir); CpuBackend backend = new CpuBackend(2);
             Engine engine = new Engine(ckpt, backend, OPTIONS);
             EngineLoop loop = new EngineLoop(engine, false, Duration.ofMillis(5), Duration.ofMillis(50)).start()) {
            // A JIT that has already gone quiet: only the batch times decide.
            PodWarmup w = new PodWarmup(loop, OPTIONS, ckpt.config().vocabSize(), Duration.ofSeconds(60), () -> 1, () -> 0)
                    .start();
            PodWarmup.Outcome o = w.done().get(90, TimeUnit.SECONDS);
            assertTrue(o == PodWarmup.Outcome.SETTLED || o == PodWarmup.Outcome.TIME_LIMIT, o.name());
            assertTrue(w.finished());
            assertTrue(w.batches() >= PodWarmup.STABLE_BATCHES, w.batches() + " batches");
            assertEquals(engine.allocator().totalBlocks(), engine.allocator().freeBlocks(), "the warm-up holds no KV blocks");
            assertEquals(0, engine.scheduler().runningCount() + engine.scheduler().waitingCount());
            GenerationResult after = loop.submit(PROMPT, SamplingParams.greedy(8, true), false).get(30, TimeUnit.SECONDS);
            assertArrayEquals(expected, after.generatedIds(), "the same greedy ids after the warm-up");
        }
    }

    @Test
    void aJitThatNeverGoesQuietEndsItAtTheLimit() throws Exception {
        AtomicLong compiled = new AtomicLong();
        LongSupplier alwaysCompiling = () -> compiled.addAndGet(10_000);
        try (Checkpoint ckpt = Checkpoint.open(dir); CpuBackend backend = new CpuBackend(2);
             Engine engine = new Engine(ckpt, backend, OPTIONS);
             EngineLoop loop = new EngineLoop(engine, false, Duration.ofMillis(5), Duration.ofMillis(50)).start()) {
            long t0 = System.nanoTime();
            PodWarmup w = new PodWarmup(loop, OPTIONS, ckpt.config().vocabSize(), Duration.ofSeconds(2), () -> 1,
                    alwaysCompiling).start();
            assertEquals(PodWarmup.Outcome.TIME_LIMIT, w.done().get(60, TimeUnit.SECONDS));
            double took = (System.nanoTime() - t0) / 1e9;
            assertTrue(took >= 2 && took < 30, "ended after " + took + " s");
            assertEquals(engine.allocator().totalBlocks(), engine.allocator().freeBlocks());
        }
    }

    @Test
    void withoutExpertRoundsItWaitsOnlyUntilTheLimit() throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(dir); CpuBackend backend = new CpuBackend(2);
             Engine engine = new Engine(ckpt, backend, OPTIONS);
             EngineLoop loop = new EngineLoop(engine, false, Duration.ofMillis(5), Duration.ofMillis(50)).start()) {
            long t0 = System.nanoTime();
            PodWarmup w = new PodWarmup(loop, OPTIONS, ckpt.config().vocabSize(), Duration.ofMillis(500), () -> 0, () -> 0)
                    .start();
            assertFalse(w.finished(), "it waits for a round first");
            assertEquals(PodWarmup.Outcome.TIME_LIMIT, w.done().get(10, TimeUnit.SECONDS));
            assertEquals(0, w.batches(), "no batch was sent without the expert pods");
            assertTrue((System.nanoTime() - t0) / 1e9 < 5);
        }
    }

    @Test
    void aStoppedEngineFailsItAndAZeroLimitSkipsIt() throws Exception {
        try (Checkpoint ckpt = Checkpoint.open(dir); CpuBackend backend = new CpuBackend(2);
             Engine engine = new Engine(ckpt, backend, OPTIONS)) {
            EngineLoop loop = new EngineLoop(engine, false, Duration.ofMillis(5), Duration.ofMillis(50)).start();
            loop.close();
            PodWarmup failed = new PodWarmup(loop, OPTIONS, ckpt.config().vocabSize(), Duration.ofSeconds(30), () -> 1,
                    () -> 0).start();
            assertEquals(PodWarmup.Outcome.FAILED, failed.done().get(10, TimeUnit.SECONDS));

            PodWarmup skipped = new PodWarmup(loop, OPTIONS, ckpt.config().vocabSize(), Duration.ZERO, () -> 1).start();
            assertTrue(skipped.finished(), "a zero limit ends it before it starts");
            assertEquals(PodWarmup.Outcome.SKIPPED, skipped.outcome());
        }
    }
}
