package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.Tensor;
import io.shuttle.kernels.cpu.CpuBackend;
import io.shuttle.model.Checkpoint;
import io.shuttle.reference.SafetensorsWriter;
import io.shuttle.reference.TestCheckpoints;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.LongPredicate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Steps whose expert round fails are retried with their sequences kept: the tokens are exactly
 * those of a run without failures, however many steps fail and wherever in the step (after some
 * layers have already written the KV cache). Past the retry budget the requests end with the error.
 */
class EngineRetryTest {

    /** An in-process expert client whose combine fails for the attempts {@code fails} picks. */
    static final class FlakyExperts implements ExpertClient {
        private final ExpertStage stage;
        private final LongPredicate fails;
        private long attempts;
        int failures;

        FlakyExperts(ExpertStage stage, LongPredicate fails) {
            this.stage = stage;
            this.fails = fails;
        }

        @Override
        public void dispatch(long step, int layer, int microBatch, Tensor x, Tensor ids, Tensor weights, Tensor out) {
            stage.forward(layer, x, ids, weights, out);
        }

        @Override
        public void awaitCombine(long step, int layer, int microBatch) {
            // Fail late in a step (the last layer), after earlier layers wrote their KV entries.
            if (layer == 1 && microBatch == 1 && fails.test(attempts++)) {
                failures++;
                throw new ExpertUnavailableException("expert pod 1 is restarting (test)");
            }
        }

        @Override
        public void close() {
        }
    }

    @Test
    void retriedStepsGiveExactlyTheTokensOfAnUninterruptedRun(@TempDir Path dir) throws Exception {
        TestCheckpoints.write(dir, TestCheckpoints.TOP2, 11, SafetensorsWriter.DType.F32);
        List<int[]> prompts = EngineFixture.prompts(5, TestCheckpoints.TOP2.vocab(), 9, 3, 21);
        EngineOptions options = new EngineOptions(16, 8, 256, 8, 256); // small budget: prompts are chunked
        List<GenerationResult> expected;
        try (EngineFixture f = new EngineFixture(dir, options)) {
            expected = f.engine.generate(prompts, SamplingParams.greedy(12, true), false);
        }
        try (Checkpoint ckpt = Checkpoint.open(dir); Backend b = new CpuBackend(1);
             ExpertStage stage = new ExpertStage(ckpt.config(), ExpertWeights.loadAll(ckpt, b), b, 16)) {
            // Attempts 2-4 fail (three in a row, in the prefill), then every fifth.
            FlakyExperts experts = new FlakyExperts(stage, a -> (a >= 2 && a <= 4) || a % 5 == 0);
            try (Engine engine = new Engine(ckpt, b, options, experts, 2, StepTrace.NONE)
                    .retryFailedSteps(Duration.ofSeconds(60));
                 EngineLoop loop = new EngineLoop(engine, false, Duration.ofMillis(5), Duration.ofMillis(1)).start()) {
                List<CompletableFuture<GenerationResult>> results = prompts.stream()
                        .map(p -> loop.submit(p, SamplingParams.greedy(12, true), false)).toList();
                for (int i = 0; i < prompts.size(); i++) {
                    assertArrayEquals(expected.get(i).generatedIds(), results.get(i).get(60, TimeUnit.SECONDS).generatedIds(),
                            "prompt " + i);
                }
                assertTrue(experts.failures >= 5, "steps did fail: " + experts.failures);
                assertEquals(engine.allocator().totalBlocks(), engine.allocator().freeBlocks(), "no KV block leaked");
                assertEquals(0, engine.stalledSince(), "the stall ended");
            }
        }
    }

    @Test
    void pastTheRetryBudgetTheRequestsEndWithTheError(@TempDir Path dir) throws Exception {
        TestCheckpoints.write(dir, TestCheckpoints.TOP2, 11, SafetensorsWriter.DType.F32);
        EngineOptions options = new EngineOptions(16, 8, 256, 8, 256);
        try (Checkpoint ckpt = Checkpoint.open(dir); Backend b = new CpuBackend(1);
             ExpertStage stage = new ExpertStage(ckpt.config(), ExpertWeights.loadAll(ckpt, b), b, 16)) {
            FlakyExperts experts = new FlakyExperts(stage, a -> true); // the expert pod never comes back
            try (Engine engine = new Engine(ckpt, b, options, experts, 2, StepTrace.NONE)
                    .retryFailedSteps(Duration.ofMillis(300));
                 EngineLoop loop = new EngineLoop(engine, false, Duration.ofMillis(5), Duration.ofMillis(20)).start()) {
                long t0 = System.nanoTime();
                CompletableFuture<GenerationResult> r = loop.submit(new int[] {5, 6, 7}, SamplingParams.greedy(4, true), false);
                ExecutionException e = assertThrows(ExecutionException.class, () -> r.get(30, TimeUnit.SECONDS));
                double seconds = (System.nanoTime() - t0) / 1e9;
                assertInstanceOf(ExpertUnavailableException.class, e.getCause());
                assertTrue(seconds >= 0.3 && seconds < 10, "ended after the 0.3 s budget, not before or much later: " + seconds);
                assertTrue(experts.failures > 3, "retried meanwhile: " + experts.failures);
                assertEquals(engine.allocator().totalBlocks(), engine.allocator().freeBlocks(), "no KV block leaked");
            }
        }
    }
}
