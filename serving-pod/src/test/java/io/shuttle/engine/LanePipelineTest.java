package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.Tensor;
import io.shuttle.kernels.cpu.CpuBackend;
import io.shuttle.model.Checkpoint;
import io.shuttle.reference.SafetensorsWriter;
import io.shuttle.reference.TestCheckpoints;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Micro-batches run across step boundaries: a lane's next step is handed to the experts before
 * the other lanes' last layer comes back, rounds still reach the experts in (step, layer, lane)
 * order, and a step that fails with one lane already in the next step is retried exactly or
 * ends its requests without leaking KV blocks.
 */
class LanePipelineTest {

    @TempDir
    static Path dir;
    static final TestCheckpoints.Spec SPEC = TestCheckpoints.TOP2; // 3 layers
    static final EngineOptions OPTIONS = new EngineOptions(16, 8, 256, 8, 256);

    @BeforeAll
    static void checkpoint() {
        TestCheckpoints.write(dir, SPEC, 17, SafetensorsWriter.DType.F32);
    }

    /** An in-process expert client that logs every dispatch and combine, and can fail one combine. */
    static final class RecordingExperts implements ExpertClient {
        final ExpertStage stage;
        final List<long[]> events = new ArrayList<>(); // {0 dispatch | 1 combine, step, layer, lane}
        long failStep = -1;
        int failLayer;
        int failLane;

        RecordingExperts(ExpertStage stage) {
            this.stage = stage;
        }

        @Override
        public void dispatch(long step, int layer, int microBatch, Tensor x, Tensor ids, Tensor weights, Tensor out) {
            events.add(new long[] {0, step, layer, microBatch});
            stage.forward(layer, x, ids, weights, out);
        }

        @Override
        public void awaitCombine(long step, int layer, int microBatch) {
            events.add(new long[] {1, step, layer, microBatch});
            if (step == failStep && layer == failLayer && microBatch == failLane) {
                failStep = -1;
                throw new ExpertUnavailableException("expert pod restarting (test)");
            }
        }

        int indexOf(int kind, long step, int layer, int lane) {
            for (int i = 0; i < events.size(); i++) {
                long[] e = events.get(i);
                if (e[0] == kind && e[1] == step && e[2] == layer && e[3] == lane) {
                    return i;
                }
            }
            return -1;
        }

        /** Dispatches must come in (step, layer, lane) order with every round of a step present. */
        void assertRoundOrder(int layers, int lanes) {
            long prev = -1;
            for (long[] e : events) {
                if (e[0] != 0) {
                    continue;
                }
                long round = e[1] * layers * lanes + e[2] * lanes + e[3];
                boolean ok = prev < 0 || round == prev + 1 || (e[2] == 0 && e[3] == 0 && (prev + 1) % (layers * lanes) == 0 && round > prev);
                assertTrue(ok, "round (" + e[1] + ", " + e[2] + ", " + e[3] + ") after round index " + prev);
                prev = round;
            }
        }

        @Override
        public void close() {
        }
    }

    @Test
    void theNextStepOfALaneStartsWhileTheLastLaneIsStillAtTheExperts() {
        List<int[]> prompts = EngineFixture.prompts(3, SPEC.vocab(), 5, 7, 4, 6);
        List<GenerationResult> expected;
        try (EngineFixture mono = new EngineFixture(dir, OPTIONS)) {
            expected = mono.engine.generate(prompts, SamplingParams.greedy(6, true), false);
        }
        try (Checkpoint ckpt = Checkpoint.open(dir); Backend b = new CpuBackend(1);
             ExpertStage stage = new ExpertStage(ckpt.config(), ExpertWeights.loadAll(ckpt, b), b, 16)) {
            RecordingExperts experts = new RecordingExperts(stage);
            try (Engine engine = new Engine(ckpt, b, OPTIONS, experts, 2, StepTrace.NONE)) {
                List<GenerationResult> actual = engine.generate(prompts, SamplingParams.greedy(6, true), false);
                for (int p = 0; p < prompts.size(); p++) {
                    assertArrayEquals(expected.get(p).generatedIds(), actual.get(p).generatedIds(), "prompt " + p);
                }
                int last = SPEC.layers() - 1;
                int overlapped = 0;
                for (long s = 0; experts.indexOf(1, s, last, 1) >= 0; s++) {
                    int next = experts.indexOf(0, s + 1, 0, 0);
                    if (next >= 0 && next < experts.indexOf(1, s, last, 1)) {
                        overlapped++;
                    }
                }
                assertTrue(overlapped >= 5, "lane 0's step s+1 went out before lane 1's step s came back in "
                        + overlapped + " steps");
                experts.assertRoundOrder(SPEC.layers(), 2);
                assertEquals(engine.allocator().totalBlocks(), engine.allocator().freeBlocks());
            }
        }
    }

    /** Every span the engine traces, as "kind step lane" in the order they ended. */
    static final class RecordingTrace implements StepTrace {
        final List<String> spans = new ArrayList<>();

        @Override
        public long now() {
            return System.nanoTime();
        }

        @Override
        public void attention(long step, int layer, int microBatch, long startNanos) {
            spans.add("attention" + layer + " " + step + " " + microBatch);
        }

        @Override
        public void wait(long step, int layer, int microBatch, long startNanos) {
        }

        @Override
        public void dispatch(long step, int layer, int microBatch, long startNanos) {
        }

        @Override
        public void logits(long step, int microBatch, long startNanos) {
            spans.add("lm_head " + step + " " + microBatch);
        }

        @Override
        public void boundary(Boundary phase, long step, int microBatch, long startNanos) {
            spans.add(phase.label() + " " + step + " " + microBatch);
        }
    }

    @Test
    void eachLanesStepBoundaryIsTracedInTheOrderItRuns() {
        List<int[]> prompts = EngineFixture.prompts(5, SPEC.vocab(), 5, 7, 4, 6);
        try (Checkpoint ckpt = Checkpoint.open(dir); Backend b = new CpuBackend(1);
             ExpertStage stage = new ExpertStage(ckpt.config(), ExpertWeights.loadAll(ckpt, b), b, 16)) {
            RecordingTrace trace = new RecordingTrace();
            try (Engine engine = new Engine(ckpt, b, OPTIONS, new RecordingExperts(stage), 2, trace)) {
                engine.generate(prompts, SamplingParams.greedy(6, true), false);
            }
            List<String> spans = trace.spans;
            int boundaries = 0;
            for (int i = 0; i < spans.size(); i++) {
                if (!spans.get(i).startsWith("schedule ")) {
                    continue;
                }
                // A lane's next step while the pipeline runs: its lm_head and sampling of step s,
                // then scheduling, inputs and layer 0 of step s+1, with nothing in between.
                String[] f = spans.get(i).split(" ");
                long next = Long.parseLong(f[1]);
                String lane = f[2];
                assertEquals(List.of("lm_head " + (next - 1) + " " + lane, "sample " + (next - 1) + " " + lane,
                                "schedule " + next + " " + lane, "inputs " + next + " " + lane,
                                "attention0 " + next + " " + lane),
                        spans.subList(i - 2, i + 3), "around span " + i + ": " + spans.subList(Math.max(0, i - 4),
                                Math.min(spans.size(), i + 5)));
                boundaries++;
            }
            assertTrue(boundaries >= 8, "lanes went straight into their next step " + boundaries + " times");
            assertEquals(spans.stream().filter(x -> x.startsWith("lm_head")).count(),
                    spans.stream().filter(x -> x.startsWith("sample")).count(), "every lm_head is sampled");
        }
    }

    @Test
    void aStepFailingWithALaneAlreadyInTheNextStepIsRetriedExactly() {
        List<int[]> prompts = EngineFixture.prompts(4, SPEC.vocab(), 5, 9, 3, 6);
        List<GenerationResult> expected;
        try (EngineFixture mono = new EngineFixture(dir, OPTIONS)) {
            expected = mono.engine.generate(prompts, SamplingParams.greedy(8, true), false);
        }
        try (Checkpoint ckpt = Checkpoint.open(dir); Backend b = new CpuBackend(1);
             ExpertStage stage = new ExpertStage(ckpt.config(), ExpertWeights.loadAll(ckpt, b), b, 16)) {
            RecordingExperts experts = new RecordingExperts(stage);
            experts.failStep = 3;
            experts.failLayer = SPEC.layers() - 1;
            experts.failLane = 1; // lane 0 has sampled step 3 and begun step 4
            try (Engine engine = new Engine(ckpt, b, OPTIONS, experts, 2, StepTrace.NONE)
                    .retryFailedSteps(Duration.ofSeconds(60))) {
                List<CollectingListener> listeners = new ArrayList<>();
                for (int i = 0; i < prompts.size(); i++) {
                    CollectingListener l = new CollectingListener(prompts.get(i), false);
                    listeners.add(l);
                    engine.scheduler().submit(new Request("r" + i, prompts.get(i), SamplingParams.greedy(8, true), l));
                }
                int failures = 0;
                for (int guard = 0; guard < 200 && engine.scheduler().hasWork(); guard++) {
                    try {
                        engine.step();
                    } catch (ExpertUnavailableException e) {
                        assertTrue(e.retried(), e.getMessage());
                        failures++;
                    }
                }
                assertEquals(1, failures);
                assertTrue(experts.indexOf(0, 4, 0, 0) < experts.indexOf(1, 3, SPEC.layers() - 1, 1),
                        "the failure came with lane 0 already in step 4");
                // Step 4's remaining rounds went out empty after the failure; the retry is step 5.
                assertTrue(experts.indexOf(0, 4, SPEC.layers() - 1, 1) >= 0);
                assertTrue(experts.indexOf(0, 5, 0, 0) > experts.indexOf(0, 4, SPEC.layers() - 1, 1));
                experts.assertRoundOrder(SPEC.layers(), 2);
                for (int p = 0; p < prompts.size(); p++) {
                    assertArrayEquals(expected.get(p).generatedIds(), listeners.get(p).result().join().generatedIds(),
                            "prompt " + p);
                }
                assertEquals(engine.allocator().totalBlocks(), engine.allocator().freeBlocks(), "no KV block leaked");
            }
        }
    }

    @Test
    void withoutRetriesTheFailedLanesEndTheirRequestsAndFreeTheirBlocks() {
        try (Checkpoint ckpt = Checkpoint.open(dir); Backend b = new CpuBackend(1);
             ExpertStage stage = new ExpertStage(ckpt.config(), ExpertWeights.loadAll(ckpt, b), b, 16)) {
            RecordingExperts experts = new RecordingExperts(stage);
            experts.failStep = 2;
            experts.failLayer = SPEC.layers() - 1;
            experts.failLane = 1;
            try (Engine engine = new Engine(ckpt, b, OPTIONS, experts, 2, StepTrace.NONE)) {
                List<CollectingListener> listeners = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    CollectingListener l = new CollectingListener(new int[] {3, 4, 5}, false);
                    listeners.add(l);
                    engine.scheduler().submit(new Request("r" + i, new int[] {3, 4, 5}, SamplingParams.greedy(10, true), l));
                }
                engine.step();
                engine.step();
                assertThrows(ExpertUnavailableException.class, engine::step);
                for (CollectingListener l : listeners) {
                    assertTrue(l.result().isCompletedExceptionally(), "every request of both lanes ended");
                }
                assertEquals(engine.allocator().totalBlocks(), engine.allocator().freeBlocks(), "no KV block leaked");
                // The engine goes on: a new request runs in a later step.
                CollectingListener next = new CollectingListener(new int[] {3, 4, 5}, false);
                engine.scheduler().submit(new Request("after", new int[] {3, 4, 5}, SamplingParams.greedy(2, true), next));
                while (engine.scheduler().hasWork()) {
                    engine.step();
                }
                assertEquals(2, next.result().join().generatedIds().length);
                experts.assertRoundOrder(SPEC.layers(), 2);
            }
        }
    }

    /**
     * Lane 0's requests stop after two tokens while lane 1's run on: lane 1 hands a sequence over
     * (it sits out at most one step) and every request still generates exactly what it generates
     * alone, in round order, without leaking KV blocks.
     */
    @Test
    void aSequenceMovedToALaneThatFinishedEarlyGeneratesExactlyAsAlone() {
        // 8 two-token prompts fill both lanes' 8-token budgets in step 0: r0-r3 in lane 0, r4-r7 in lane 1.
        List<int[]> prompts = EngineFixture.prompts(11, SPEC.vocab(), 2, 2, 2, 2, 2, 2, 2, 2);
        List<GenerationResult> expected;
        try (EngineFixture mono = new EngineFixture(dir, OPTIONS)) {
            expected = mono.engine.generate(prompts, SamplingParams.greedy(10, true), false);
        }
        try (Checkpoint ckpt = Checkpoint.open(dir); Backend b = new CpuBackend(1);
             ExpertStage stage = new ExpertStage(ckpt.config(), ExpertWeights.loadAll(ckpt, b), b, 16)) {
            RecordingExperts experts = new RecordingExperts(stage);
            try (Engine engine = new Engine(ckpt, b, OPTIONS, experts, 2, StepTrace.NONE)) {
                List<CollectingListener> listeners = new ArrayList<>();
                for (int i = 0; i < prompts.size(); i++) {
                    CollectingListener l = new CollectingListener(prompts.get(i), false);
                    listeners.add(l);
                    int maxTokens = i < 3 ? 2 : 10;
                    engine.scheduler().submit(new Request("r" + i, prompts.get(i), SamplingParams.greedy(maxTokens, true), l));
                }
                for (int guard = 0; guard < 100 && engine.scheduler().hasWork(); guard++) {
                    engine.step();
                }
                assertTrue(engine.scheduler().laneMoves() >= 1, "lane 1 kept all four sequences while lane 0 ran one");
                for (int p = 0; p < prompts.size(); p++) {
                    int[] want = expected.get(p).generatedIds();
                    int[] got = listeners.get(p).result().join().generatedIds();
                    assertArrayEquals(java.util.Arrays.copyOf(want, p < 3 ? 2 : 10), got, "prompt " + p);
                }
                experts.assertRoundOrder(SPEC.layers(), 2);
                assertEquals(engine.allocator().totalBlocks(), engine.allocator().freeBlocks(), "no KV block leaked");
            }
        }
    }
}
