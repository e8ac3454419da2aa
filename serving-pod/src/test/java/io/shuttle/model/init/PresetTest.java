package io.shuttle.model.init;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.shuttle.kernels.DType;
import io.shuttle.model.Checkpoint;
import io.shuttle.model.MixtralLayout;
import io.shuttle.model.MixtralNames;
import io.shuttle.model.ModelConfig;
import io.shuttle.model.ProgressListener;
import io.shuttle.model.safetensors.ShardedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PresetTest {

    @TempDir
    Path dir;

    @Test
    void parameterCountsWorkedOutByHand() {
        // tiny: embed + lm_head 2·512·64; per layer q,o 64·64, k,v 32·64, router 4·64, experts 4·3·128·64, 2 norms.
        long tinyLayer = 2 * 64 * 64 + 2 * 32 * 64 + 4 * 64 + 4 * 3 * 128 * 64 + 2 * 64;
        assertEquals(2L * 512 * 64 + 2 * tinyLayer + 64, Preset.tiny().parameterCount());
        // small: per layer q,o 512·512, k,v 256·512, router 8·512, experts 8·3·768·512, 2 norms.
        long smallLayer = 2L * 512 * 512 + 2 * 256 * 512 + 8 * 512 + 8 * 3 * 768 * 512 + 2 * 512;
        long small = 2L * 8192 * 512 + 8 * smallLayer + 512;
        assertEquals(small, Preset.small().parameterCount());
        assertTrue(small >= 50_000_000 && small <= 100_000_000, "small preset has " + small + " parameters");
    }

    @Test
    void unknownPresetListsTheAvailableOnes() {
        String msg = assertThrows(IllegalArgumentException.class, () -> Preset.byName("huge")).getMessage();
        assertEquals("unknown preset 'huge'; available: tiny, small", msg);
    }

    /** Variants go through the same writer and loader: MHA, top-1, top-3, tied embeddings, odd sizes. */
    @Test
    void variantsWriteAndLoadThroughTheSamePath() {
        List<Preset> variants = List.of(
                Preset.tiny().toBuilder().name("mha").numKvHeads(4).build(),
                Preset.tiny().toBuilder().name("top1").topK(1).build(),
                Preset.tiny().toBuilder().name("top3").topK(3).numExperts(5).build(),
                Preset.tiny().toBuilder().name("tied").tieWordEmbeddings(true).build(),
                Preset.tiny().toBuilder().name("odd").hiddenSize(48).headDim(12).intermediateSize(80).numLayers(3)
                        .vocabSize(300).build());
        for (Preset p : variants) {
            Path out = dir.resolve(p.name());
            new CheckpointGenerator(p.config(), 5, DType.F32).writeModel(out, ShardedWriter.UNLIMITED,
                    ProgressListener.none());
            try (Checkpoint ckpt = Checkpoint.open(out)) {
                ModelConfig c = ckpt.config();
                assertEquals(p.config(), c);
                assertEquals(MixtralLayout.tensors(c).size(), ckpt.tensorNames().size(), p.name());
                assertEquals(p.parameterCount() * 4, ckpt.totalBytes());
                assertArrayEquals(new long[] {c.numExperts(), c.hiddenSize()}, ckpt.info(MixtralNames.router(0)).shape());
                assertEquals(!c.tieWordEmbeddings(), ckpt.contains(MixtralNames.lmHead()));
            }
        }
    }

    @Test
    void sameSeedSameBytesOtherSeedOtherBytes() throws IOException {
        ModelConfig c = Preset.tiny().config();
        new CheckpointGenerator(c, 9, DType.BF16).writeModel(dir.resolve("a"), ShardedWriter.UNLIMITED, ProgressListener.none());
        new CheckpointGenerator(c, 9, DType.BF16).writeModel(dir.resolve("b"), ShardedWriter.UNLIMITED, ProgressListener.none());
        new CheckpointGenerator(c, 10, DType.BF16).writeModel(dir.resolve("c"), ShardedWriter.UNLIMITED, ProgressListener.none());
        byte[] a = Files.readAllBytes(dir.resolve("a/model.safetensors"));
        assertArrayEquals(a, Files.readAllBytes(dir.resolve("b/model.safetensors")));
        assertFalse(java.util.Arrays.equals(a, Files.readAllBytes(dir.resolve("c/model.safetensors"))));
    }

    @Test
    void staticWriteProducesTheWholeFolder() throws IOException {
        Path out = dir.resolve("whole");
        GenerationSummary summary = CheckpointGenerator.write(Preset.tiny().config(), 1, DType.F16, out);
        assertEquals(List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"),
                summary.files().stream().map(p -> p.getFileName().toString()).toList());
        for (Path f : summary.files()) {
            assertTrue(Files.size(f) > 0, f.toString());
        }
        assertEquals(Preset.tiny().parameterCount() * 2, summary.tensorBytes());
        try (Checkpoint ckpt = Checkpoint.open(out)) {
            assertEquals(DType.F16, ckpt.info(MixtralNames.embedTokens()).dtype());
        }
    }

    /** Values depend on (seed, name) only: the same tensor in a bigger model is identical. */
    @Test
    void tensorValuesDoNotDependOnTheRestOfTheModel() {
        ModelConfig two = Preset.tiny().config();
        ModelConfig three = Preset.tiny().toBuilder().numLayers(3).build().config();
        String name = MixtralNames.expertW3(1, 2);
        assertArrayEquals(new CheckpointGenerator(two, 3, DType.F32).values(name),
                new CheckpointGenerator(three, 3, DType.BF16).values(name));
        assertNotEquals(new CheckpointGenerator(two, 3, DType.F32).values(name)[0],
                new CheckpointGenerator(two, 4, DType.F32).values(name)[0]);
    }

    /** The scales the class comment promises, within sampling error. */
    @Test
    void weightScalesAreSensible() {
        CheckpointGenerator gen = new CheckpointGenerator(Preset.tiny().config(), 11, DType.F32);
        assertStats(gen.values(MixtralNames.embedTokens()), 0, 1);
        assertStats(gen.values(MixtralNames.inputNorm(0)), 1, 0.1);
        assertStats(gen.values(MixtralNames.expertW2(0, 0)), 0, 1 / Math.sqrt(128));
        assertStats(gen.values(MixtralNames.router(1)), 0, 2 / Math.sqrt(64));
    }

    private static void assertStats(float[] v, double mean, double std) {
        double sum = 0;
        double sq = 0;
        for (float x : v) {
            sum += x;
            sq += x * x;
        }
        double m = sum / v.length;
        double s = Math.sqrt(sq / v.length - m * m);
        assertEquals(mean, m, 5 * std / Math.sqrt(v.length) + 1e-9, "mean");
        assertEquals(std, s, 4 * std / Math.sqrt(2.0 * v.length), "std");   // 4 standard errors
    }
}
