package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.cpu.CpuBackend;
import io.shuttle.model.Checkpoint;
import io.shuttle.reference.SafetensorsWriter;
import io.shuttle.reference.TestCheckpoints;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ping-pong pipeline in one process: the attention side on one thread and backend, the
 * experts on another thread with their own backend, m micro-batches. Greedy output must equal
 * the monolithic engine's.
 */
class PipelineRunnerTest {

    @TempDir
    static Path dir;
    static final TestCheckpoints.Spec SPEC = TestCheckpoints.TOP2;

    @BeforeAll
    static void checkpoint() {
        TestCheckpoints.write(dir, SPEC, 31, SafetensorsWriter.DType.BF16);
    }

    @ParameterizedTest(name = "m = {0}")
    @ValueSource(ints = {1, 2, 3})
    void pipelinedGreedyOutputEqualsTheMonolithicEngine(int microBatches) {
        List<int[]> prompts = EngineFixture.prompts(8, SPEC.vocab(), 9, 2, 25, 14, 1);
        EngineOptions options = new EngineOptions(16, 8, 128, 8, 128); // 16-row steps: chunked prefill too
        List<GenerationResult> expected;
        try (EngineFixture mono = new EngineFixture(dir, options)) {
            expected = mono.engine.generate(prompts, SamplingParams.greedy(7, true), true);
        }
        try (Checkpoint ckpt = Checkpoint.open(dir);
             Backend attentionBackend = new CpuBackend(1);
             Backend expertBackend = new CpuBackend(1);
             ExpertStage stage = new ExpertStage(ckpt.config(), ExpertWeights.loadAll(ckpt, expertBackend), expertBackend,
                     options.maxBatchTokens());
             LocalExpertClient client = new LocalExpertClient(stage, Duration.ofSeconds(30));
             Engine engine = new Engine(ckpt, attentionBackend, options, client, microBatches, StepTrace.NONE)) {
            List<GenerationResult> actual = engine.generate(prompts, SamplingParams.greedy(7, true), true);
            for (int p = 0; p < prompts.size(); p++) {
                assertArrayEquals(expected.get(p).generatedIds(), actual.get(p).generatedIds(), "prompt " + p);
                for (int s = 0; s < 7; s++) {
                    double d = EngineFixture.maxAbsDiff(expected.get(p).stepLogits().get(s), actual.get(p).stepLogits().get(s));
                    assertTrue(d <= 1e-4, "prompt " + p + " step " + s + " differs by " + d);
                }
            }
        }
    }
}
