package io.shuttle.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.shuttle.kernels.Bf16;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import io.shuttle.model.init.CheckpointGenerator;
import io.shuttle.model.init.Preset;
import io.shuttle.model.safetensors.ShardIndex;
import io.shuttle.model.safetensors.ShardedWriter;
import io.shuttle.model.safetensors.TensorSpec;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {

    private static final ModelConfig TINY = Preset.tiny().config();
    private static final long SEED = 1234;

    @TempDir
    Path dir;

    private CheckpointGenerator generate(DType dtype, long maxShardBytes) {
        CheckpointGenerator gen = new CheckpointGenerator(TINY, SEED, dtype);
        gen.writeModel(dir, maxShardBytes, ProgressListener.none());
        return gen;
    }

    @Test
    void f32RoundTripIsExact() {
        CheckpointGenerator gen = generate(DType.F32, ShardedWriter.UNLIMITED);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            assertEquals(TINY, ckpt.config());
            for (TensorSpec spec : gen.tensorSpecs()) {
                Tensor t = ckpt.tensor(spec.name());
                assertEquals(DType.F32, t.dtype());
                assertArrayEquals(gen.values(spec.name()), t.toFloatArray(), 0f, spec.name());
            }
        }
    }

    @Test
    void bf16HoldsTheF32ValuesRoundedToNearestEven() {
        CheckpointGenerator gen = generate(DType.BF16, ShardedWriter.UNLIMITED);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            for (TensorSpec spec : gen.tensorSpecs()) {
                Tensor t = ckpt.tensor(spec.name());
                assertEquals(DType.BF16, t.dtype());
                float[] f32 = gen.values(spec.name());
                for (int i = 0; i < f32.length; i++) {
                    assertEquals(Bf16.fromFloat(f32[i]), t.data().getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i),
                            spec.name() + "[" + i + "]");
                }
            }
        }
    }

    @Test
    void f16RoundTrip() {
        CheckpointGenerator gen = generate(DType.F16, ShardedWriter.UNLIMITED);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            String name = MixtralNames.expertW2(1, 3);
            float[] f32 = gen.values(name);
            Tensor t = ckpt.tensor(name);
            for (int i = 0; i < f32.length; i++) {
                assertEquals(Float.floatToFloat16(f32[i]), t.data().getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            }
        }
    }

    @Test
    void shardedCheckpointReadsEveryTensor() throws IOException {
        CheckpointGenerator gen = generate(DType.F32, 200_000);
        assertTrue(Files.exists(dir.resolve(ShardIndex.FILE_NAME)));
        assertFalse(Files.exists(dir.resolve("model.safetensors")));
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            assertTrue(ckpt.files().size() >= 5, "expected several shards, got " + ckpt.files());
            assertEquals(ShardIndex.read(dir.resolve(ShardIndex.FILE_NAME)).totalSize(), ckpt.totalBytes());
            for (TensorSpec spec : gen.tensorSpecs()) {
                assertArrayEquals(gen.values(spec.name()), ckpt.tensor(spec.name()).toFloatArray(), 0f);
            }
            assertEquals(ckpt.totalBytes(), ckpt.mappedBytes());
        }
    }

    @Test
    void openingMapsNothingAndEachTensorIsMappedOnce() {
        CheckpointGenerator gen = generate(DType.BF16, ShardedWriter.UNLIMITED);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            assertEquals(0, ckpt.mappedBytes());
            assertEquals(gen.tensorSpecs().stream().mapToLong(TensorSpec::byteSize).sum(), ckpt.totalBytes());
            String w1 = MixtralNames.expertW1(0, 2);
            long size = ckpt.info(w1).byteSize();
            assertEquals(128L * 64 * 2, size);
            Tensor first = ckpt.tensor(w1);
            assertEquals(size, ckpt.mappedBytes());
            assertSame(first, ckpt.tensor(w1));
            assertEquals(size, ckpt.mappedBytes());
            ckpt.tensor(MixtralNames.finalNorm(), 64);
            assertEquals(size + 64 * 2, ckpt.mappedBytes());
        }
    }

    @Test
    void concurrentMappingCountsEachTensorOnce() throws Exception {
        generate(DType.F32, ShardedWriter.UNLIMITED);
        try (Checkpoint ckpt = Checkpoint.open(dir); ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<List<Tensor>>> results = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                List<String> names = new ArrayList<>(ckpt.tensorNames());
                Collections.shuffle(names, new Random(t));
                results.add(pool.submit(() -> names.stream().sorted().map(ckpt::tensor).toList()));
            }
            List<Tensor> reference = results.getFirst().get(30, TimeUnit.SECONDS);
            for (Future<List<Tensor>> f : results) {
                List<Tensor> got = f.get(30, TimeUnit.SECONDS);
                for (int i = 0; i < got.size(); i++) {
                    assertSame(reference.get(i), got.get(i));
                }
            }
            assertEquals(ckpt.totalBytes(), ckpt.mappedBytes());
        }
    }

    @Test
    void tensorListAndInfoMatchTheConfig() {
        generate(DType.BF16, ShardedWriter.UNLIMITED);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            Set<String> expected = MixtralLayout.tensors(TINY).stream().map(MixtralLayout.Expected::name)
                    .collect(Collectors.toSet());
            assertEquals(expected, ckpt.tensorNames());
            TensorInfo q = ckpt.info(MixtralNames.qProj(1));
            assertEquals(dir.resolve("model.safetensors"), q.file());
            assertEquals(DType.BF16, q.dtype());
            assertArrayEquals(new long[] {64, 64}, q.shape());
            assertArrayEquals(new long[] {32, 64}, ckpt.info(MixtralNames.kProj(1)).shape());
            assertEquals(0, ckpt.mappedBytes(), "info must not map");
        }
    }

    @Test
    void missingTensorNamesTheTensorAndTheFilesSearched() {
        generate(DType.F32, ShardedWriter.UNLIMITED);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            String msg = assertThrows(CheckpointException.class,
                    () -> ckpt.tensor("model.layers.7.self_attn.q_proj.weight")).getMessage();
            assertContains(msg, "'model.layers.7.self_attn.q_proj.weight'", "model.safetensors", dir.toString());
            assertFalse(ckpt.contains("model.layers.7.self_attn.q_proj.weight"));
        }
    }

    @Test
    void missingTensorInAShardedCheckpointNamesIndexAndShards() {
        generate(DType.F32, 300_000);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            String msg = assertThrows(CheckpointException.class, () -> ckpt.tensor("nope.weight")).getMessage();
            assertContains(msg, "'nope.weight'", ShardIndex.FILE_NAME, "model-00001-of-");
        }
    }

    @Test
    void indexListingATensorItsShardLacks() throws IOException {
        generate(DType.F32, 300_000);
        Path indexFile = dir.resolve(ShardIndex.FILE_NAME);
        ShardIndex index = ShardIndex.read(indexFile);
        String shard = index.weightMap().get(MixtralNames.finalNorm());
        Map<String, String> weightMap = new HashMap<>(index.weightMap());
        weightMap.put("ghost.weight", shard);
        new ShardIndex(index.totalSize(), weightMap).write(indexFile);
        String msg = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir)).getMessage();
        assertContains(msg, dir.resolve(shard).toString(), "'ghost.weight'", ShardIndex.FILE_NAME);
    }

    @Test
    void shapeThatContradictsConfigJsonIsReportedAtOpen() {
        generate(DType.F32, ShardedWriter.UNLIMITED);
        ModelConfig other = Preset.tiny().toBuilder().intermediateSize(96).build().config();
        MixtralConfigWriter.write(dir, other, DType.F32);
        String msg = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir)).getMessage();
        assertContains(msg, dir.resolve("model.safetensors").toString(), "block_sparse_moe.experts.",
                "has shape [128, 64] but config.json implies [96, 64]", "intermediate_size=96", "hidden_size=64");
    }

    @Test
    void shapeThatContradictsTheCallerNamesBothShapes() {
        generate(DType.F32, ShardedWriter.UNLIMITED);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            String msg = assertThrows(CheckpointException.class,
                    () -> ckpt.tensor(MixtralNames.oProj(0), 64, 32)).getMessage();
            assertContains(msg, "model.safetensors", "'model.layers.0.self_attn.o_proj.weight'", "[64, 64]",
                    "the caller expects [64, 32]");
            assertEquals(0, ckpt.mappedBytes());
        }
    }

    @Test
    void unsupportedDtypeOfAModelTensorIsReportedAtOpen() throws IOException {
        MixtralConfigWriter.write(dir, TINY, DType.F32);
        String header = "{\"model.norm.weight\":{\"dtype\":\"F64\",\"shape\":[64],\"data_offsets\":[0,512]}}";
        Path file = RawSafetensors.write(dir.resolve("model.safetensors"), header, new byte[512]);
        String msg = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir)).getMessage();
        assertContains(msg, file.toString(), "'model.norm.weight'", "F64", "supported: F32, BF16, F16, I32");
    }

    @Test
    void unsupportedDtypeOfAnExtraTensorIsReportedWhenAskedFor() throws IOException {
        MixtralConfigWriter.write(dir, TINY, DType.F32);
        String header = "{\"step\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
                + "\"ids\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
        Path file = RawSafetensors.write(dir.resolve("model.safetensors"), header,
                new byte[] {1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 9, 0, 0, 0});
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            assertTrue(ckpt.contains("step"));
            assertArrayEquals(new int[] {5, 9}, ckpt.tensor("ids").toIntArray());
            String msg = assertThrows(CheckpointException.class, () -> ckpt.tensor("step")).getMessage();
            assertContains(msg, file.toString(), "'step'", "I64", "supported: F32, BF16, F16, I32");
        }
    }

    @Test
    void folderWithoutWeights() {
        MixtralConfigWriter.write(dir, TINY, DType.F32);
        String msg = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir)).getMessage();
        assertContains(msg, dir.toString(), "model.safetensors", ShardIndex.FILE_NAME, "no .safetensors files");
    }

    @Test
    void folderThatDoesNotExist() {
        String msg = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir.resolve("nowhere"))).getMessage();
        assertContains(msg, "nowhere", "does not exist");
    }

    @Test
    void prefaultTouchesMappedTensorsAndReportsProgress() {
        generate(DType.F32, ShardedWriter.UNLIMITED);
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            for (int e = 0; e < TINY.numExperts(); e++) {
                ckpt.tensor(MixtralNames.expertW1(0, e));
            }
            List<long[]> calls = new ArrayList<>();
            long touched = ckpt.prefault((done, total) -> calls.add(new long[] {done, total}));
            assertEquals(ckpt.mappedBytes(), touched);
            assertArrayEquals(new long[] {touched, touched}, calls.getLast());
            assertEquals(0, calls.getFirst()[0]);
        }
    }

    @Test
    void closedCheckpointRefusesReads() {
        generate(DType.F32, ShardedWriter.UNLIMITED);
        Checkpoint ckpt = Checkpoint.open(dir);
        ckpt.close();
        ckpt.close();
        String msg = assertThrows(CheckpointException.class, () -> ckpt.tensor(MixtralNames.finalNorm())).getMessage();
        assertContains(msg, "closed", dir.toString());
    }

    static void assertContains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), () -> "expected '" + p + "' in: " + message);
        }
    }
}
