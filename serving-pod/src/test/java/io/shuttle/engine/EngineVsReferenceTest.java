package io.shuttle.engine;

import io.shuttle.reference.ReferenceMixtral;
import io.shuttle.reference.SafetensorsWriter;
import io.shuttle.reference.TestCheckpoints;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The central correctness check of the engine: against the independent float64, full-recompute
 * reference (written from the HF semantics, with its own safetensors reader), on checkpoints
 * written by the reference's own generator. Batched prefill of mixed-length prompts, then
 * KV-cached decode; every step's logits are compared.
 */
class EngineVsReferenceTest {

    static Stream<Arguments> models() {
        return Stream.of(
                Arguments.of("GQA top-2 f32", TestCheckpoints.GQA, SafetensorsWriter.DType.F32, 1e-4),
                Arguments.of("MHA top-2 f32", TestCheckpoints.MHA, SafetensorsWriter.DType.F32, 1e-4),
                Arguments.of("top-1 f32", TestCheckpoints.TOP1, SafetensorsWriter.DType.F32, 1e-4),
                Arguments.of("top-3 of 6 f32", TestCheckpoints.TOP3, SafetensorsWriter.DType.F32, 1e-4),
                Arguments.of("tied embeddings f32", TestCheckpoints.TIED, SafetensorsWriter.DType.F32, 1e-4),
                Arguments.of("head_dim 32 f32", TestCheckpoints.WIDE_HEAD, SafetensorsWriter.DType.F32, 1e-4),
                // bf16 weights: both sides use the same bf16 values; the engine accumulates in f32.
                Arguments.of("GQA top-2 bf16", TestCheckpoints.GQA, SafetensorsWriter.DType.BF16, 1e-4),
                Arguments.of("top-3 bf16", TestCheckpoints.TOP3, SafetensorsWriter.DType.BF16, 1e-4));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void greedyIdsAndLogitsMatchTheReference(String name, TestCheckpoints.Spec spec, SafetensorsWriter.DType dtype,
                                              double tolerance, @TempDir Path dir) {
        TestCheckpoints.write(dir, spec, 11, dtype);
        ReferenceMixtral reference = ReferenceMixtral.load(dir);
        List<int[]> prompts = EngineFixture.prompts(5, spec.vocab(), 7, 1, 19, 12);
        int steps = 6;
        try (EngineFixture f = new EngineFixture(dir)) {
            List<GenerationResult> results = f.engine.generate(prompts, SamplingParams.greedy(steps, true), true);
            for (int p = 0; p < prompts.size(); p++) {
                ReferenceMixtral.Generation expected = reference.greedy(prompts.get(p), steps);
                GenerationResult actual = results.get(p);
                assertArrayEquals(expected.ids(), actual.generatedIds(), name + ": prompt " + p + " greedy ids");
                double prefill = EngineFixture.maxAbsDiff(actual.lastLogits(), expected.lastPromptLogits());
                assertTrue(prefill <= tolerance, name + ": prompt " + p + " prefill logits differ by " + prefill);
                for (int s = 0; s < steps; s++) {
                    double d = EngineFixture.maxAbsDiff(actual.stepLogits().get(s), expected.stepLogits()[s]);
                    assertTrue(d <= tolerance, name + ": prompt " + p + " step " + s + " logits differ by " + d);
                }
            }
        }
    }
}
