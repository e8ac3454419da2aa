package io.shuttle.engine;

import io.shuttle.reference.SafetensorsWriter;
import io.shuttle.reference.TestCheckpoints;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Properties the engine must have whatever the batch shape: batching, caching and chunking change nothing. */
class EngineInvariantsTest {

    @TempDir
    static Path dir;
    static final TestCheckpoints.Spec SPEC = TestCheckpoints.GQA;

    @BeforeAll
    static void checkpoint() {
        TestCheckpoints.write(dir, SPEC, 23, SafetensorsWriter.DType.F32);
    }

    @Test
    void aBatchOfMixedLengthPromptsEqualsEachPromptAlone() {
        List<int[]> prompts = EngineFixture.prompts(1, SPEC.vocab(), 3, 17, 1, 9, 30);
        try (EngineFixture f = new EngineFixture(dir)) {
            List<GenerationResult> batch = f.engine.generate(prompts, SamplingParams.greedy(8, true), true);
            for (int p = 0; p < prompts.size(); p++) {
                GenerationResult alone = f.engine.generate(List.of(prompts.get(p)), SamplingParams.greedy(8, true), true).get(0);
                assertArrayEquals(alone.generatedIds(), batch.get(p).generatedIds(), "prompt " + p);
                for (int s = 0; s < 8; s++) {
                    double d = EngineFixture.maxAbsDiff(alone.stepLogits().get(s), batch.get(p).stepLogits().get(s));
                    assertTrue(d <= 1e-5, "prompt " + p + " step " + s + " differs by " + d);
                }
            }
        }
    }

    @Test
    void kvCachedDecodeEqualsFullRecompute() {
        int[] prompt = EngineFixture.prompts(2, SPEC.vocab(), 11).get(0);
        try (EngineFixture f = new EngineFixture(dir)) {
            GenerationResult decoded = f.engine.generate(List.of(prompt), SamplingParams.greedy(6, true), true).get(0);
            // Feed prompt + the first i generated tokens as one fresh prefill: its last logits must be decode step i's.
            for (int i = 1; i < 6; i++) {
                int[] extended = new int[prompt.length + i];
                System.arraycopy(prompt, 0, extended, 0, prompt.length);
                System.arraycopy(decoded.generatedIds(), 0, extended, prompt.length, i);
                GenerationResult recomputed = f.engine.generate(List.of(extended), SamplingParams.greedy(1, true), false).get(0);
                double d = EngineFixture.maxAbsDiff(recomputed.lastLogits(), decoded.stepLogits().get(i));
                assertTrue(d <= 1e-5, "decode step " + i + " differs from recompute by " + d);
                assertEquals(decoded.generatedIds()[i], recomputed.generatedIds()[0]);
            }
        }
    }

    @Test
    void chunkedPrefillEqualsOnePass() {
        List<int[]> prompts = EngineFixture.prompts(3, SPEC.vocab(), 40, 5, 23);
        List<GenerationResult> whole;
        try (EngineFixture f = new EngineFixture(dir)) {
            whole = f.engine.generate(prompts, SamplingParams.greedy(4, true), true);
        }
        // 8 tokens per forward pass: the 40-token prompt takes five passes, mixed with the others' decode steps.
        try (EngineFixture f = new EngineFixture(dir, new EngineOptions(8, 4, 64, 4, 128))) {
            List<GenerationResult> chunked = f.engine.generate(prompts, SamplingParams.greedy(4, true), true);
            for (int p = 0; p < prompts.size(); p++) {
                assertArrayEquals(whole.get(p).generatedIds(), chunked.get(p).generatedIds(), "prompt " + p);
                double d = EngineFixture.maxAbsDiff(whole.get(p).lastLogits(), chunked.get(p).lastLogits());
                assertTrue(d <= 1e-5, "prompt " + p + " differs by " + d);
            }
        }
    }

    @Test
    void bf16WeightsAgreeWithF32WithinBf16Tolerance(@TempDir Path bf16Dir) {
        TestCheckpoints.write(bf16Dir, SPEC, 23, SafetensorsWriter.DType.BF16);
        List<int[]> prompts = EngineFixture.prompts(4, SPEC.vocab(), 6, 13);
        List<GenerationResult> f32;
        List<GenerationResult> bf16;
        try (EngineFixture f = new EngineFixture(dir)) {
            f32 = f.engine.generate(prompts, SamplingParams.greedy(1, true), false);
        }
        try (EngineFixture f = new EngineFixture(bf16Dir)) {
            bf16 = f.engine.generate(prompts, SamplingParams.greedy(1, true), false);
        }
        for (int p = 0; p < prompts.size(); p++) {
            float[] a = f32.get(p).lastLogits();
            float[] b = bf16.get(p).lastLogits();
            double scale = 0;
            for (float v : a) {
                scale = Math.max(scale, Math.abs(v));
            }
            double d = EngineFixture.maxAbsDiff(a, b);
            // bf16 keeps 8 significant bits (relative error ≤ 2^-9 per weight); a few layers compound it.
            assertTrue(d <= 0.03 * scale, "prompt " + p + ": bf16 differs by " + d + " at logit scale " + scale);
            assertTrue(d > 0, "bf16 and f32 logits are identical: the bf16 checkpoint was not read as bf16");
        }
    }

    @Test
    void expertStagesHoldingDisjointSubsetsSumToTheFullStage() {
        // The premise of disaggregation: the combine on the attention side (a sum of partial outputs) is exact.
        try (EngineFixture f = new EngineFixture(dir)) {
            var c = f.checkpoint.config();
            var backend = f.backend;
            ExpertStage full = f.engine.expertStage();
            try (ExpertStage even = new ExpertStage(c, ExpertWeights.load(f.checkpoint, backend, new int[] {0, 2}), backend, 16);
                 ExpertStage odd = new ExpertStage(c, ExpertWeights.load(f.checkpoint, backend, new int[] {1, 3}), backend, 16);
                 java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                int n = 9;
                var r = new java.util.SplittableRandom(5);
                float[] xs = new float[n * c.hiddenSize()];
                for (int i = 0; i < xs.length; i++) {
                    xs[i] = (float) r.nextGaussian();
                }
                int[] ids = new int[n * c.topK()];
                float[] ws = new float[n * c.topK()];
                for (int t = 0; t < n; t++) {
                    ids[2 * t] = t % 4;
                    ids[2 * t + 1] = (t + 1 + t / 4) % 4;
                    ws[2 * t] = 0.7f;
                    ws[2 * t + 1] = 0.3f;
                }
                var x = io.shuttle.kernels.Tensor.ofFloats(arena, xs, n, c.hiddenSize());
                var idT = io.shuttle.kernels.Tensor.ofInts(arena, ids, n, c.topK());
                var wT = io.shuttle.kernels.Tensor.ofFloats(arena, ws, n, c.topK());
                var outFull = io.shuttle.kernels.Tensor.allocate(arena, io.shuttle.kernels.DType.F32, n, c.hiddenSize());
                var outEven = io.shuttle.kernels.Tensor.allocate(arena, io.shuttle.kernels.DType.F32, n, c.hiddenSize());
                var outOdd = io.shuttle.kernels.Tensor.allocate(arena, io.shuttle.kernels.DType.F32, n, c.hiddenSize());
                full.forward(0, x, idT, wT, outFull);
                even.forward(0, x, idT, wT, outEven);
                odd.forward(0, x, idT, wT, outOdd);
                double maxDiff = 0;
                double maxAbs = 0;
                for (int i = 0; i < n * c.hiddenSize(); i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(outFull.getFloat(i) - (outEven.getFloat(i) + outOdd.getFloat(i))));
                    maxAbs = Math.max(maxAbs, Math.abs(outFull.getFloat(i)));
                }
                assertTrue(maxAbs > 0.01, "expert output is degenerate");
                assertTrue(maxDiff <= 1e-5, "partial sums differ from the full stage by " + maxDiff);
            }
        }
    }

    @Test
    void expertOrderDoesNotChangeTheResultBitForBit() {
        // Expert pods walk every other micro-batch's experts backwards (cache reuse); the sums
        // must not notice, or the disaggregated cluster would drift from the monolithic engine.
        try (EngineFixture f = new EngineFixture(dir); java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            var c = f.checkpoint.config();
            ExpertStage stage = f.engine.expertStage();
            int n = 11;
            var r = new java.util.SplittableRandom(7);
            float[] xs = new float[n * c.hiddenSize()];
            for (int i = 0; i < xs.length; i++) {
                xs[i] = (float) r.nextGaussian();
            }
            int[] ids = new int[n * c.topK()];
            float[] ws = new float[n * c.topK()];
            for (int t = 0; t < n; t++) {
                int first = r.nextInt(c.numExperts());
                ids[2 * t] = first;
                ids[2 * t + 1] = (first + 1 + r.nextInt(c.numExperts() - 1)) % c.numExperts();
                ws[2 * t] = (float) r.nextDouble(0.5, 1);
                ws[2 * t + 1] = 1 - ws[2 * t];
            }
            var x = io.shuttle.kernels.Tensor.ofFloats(arena, xs, n, c.hiddenSize());
            var idT = io.shuttle.kernels.Tensor.ofInts(arena, ids, n, c.topK());
            var wT = io.shuttle.kernels.Tensor.ofFloats(arena, ws, n, c.topK());
            var ascending = io.shuttle.kernels.Tensor.allocate(arena, io.shuttle.kernels.DType.F32, n, c.hiddenSize());
            var descending = io.shuttle.kernels.Tensor.allocate(arena, io.shuttle.kernels.DType.F32, n, c.hiddenSize());
            stage.forward(1, x, idT, wT, ascending, false);
            stage.forward(1, x, idT, wT, descending, true);
            for (int i = 0; i < n * c.hiddenSize(); i++) {
                assertEquals(Float.floatToRawIntBits(ascending.getFloat(i)), Float.floatToRawIntBits(descending.getFloat(i)),
                        "element " + i + " depends on the expert order");
            }
        }
    }

    @Test
    void badPromptsAreRejectedWithAReason() {
        try (EngineFixture f = new EngineFixture(dir)) {
            var greedy = SamplingParams.greedy(2, true);
            var empty = assertThrows(IllegalArgumentException.class, () -> f.engine.generate(List.of(new int[0]), greedy, false));
            assertTrue(empty.getMessage().contains("empty"), empty.getMessage());
            var outside = assertThrows(IllegalArgumentException.class,
                    () -> f.engine.generate(List.of(new int[] {5, SPEC.vocab()}), greedy, false));
            assertTrue(outside.getMessage().contains("outside the vocabulary"), outside.getMessage());
            var tooLong = assertThrows(IllegalArgumentException.class,
                    () -> f.engine.generate(List.of(new int[300]), greedy, false));
            assertTrue(tooLong.getMessage().contains("maximum sequence length"), tooLong.getMessage());
            // Nothing leaked by the failed calls.
            assertEquals(f.engine.allocator().totalBlocks(), f.engine.allocator().freeBlocks());
        }
    }

    @Test
    void allKvBlocksAreReturnedAfterGeneration() {
        try (EngineFixture f = new EngineFixture(dir)) {
            List<int[]> prompts = new ArrayList<>(EngineFixture.prompts(9, SPEC.vocab(), 5, 33, 2));
            f.engine.generate(prompts, SamplingParams.greedy(5, true), false);
            assertEquals(f.engine.allocator().totalBlocks(), f.engine.allocator().freeBlocks());
        }
    }
}
