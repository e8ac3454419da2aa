package io.shuttle.reference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shuttle.reference.SafetensorsWriter.DType;
import io.shuttle.reference.SafetensorsWriter.Tensor;
import io.shuttle.reference.TestCheckpoints.Spec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The reference's own safetensors reader/writer and the test-checkpoint generator. */
class ReferenceSafetensorsTest {

    @TempDir
    Path tmp;

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals((short) 0x3F80, SafetensorsWriter.toBf16Bits(1.0f));
        // 1 + 2^-8 lies halfway between 1.0 (0x3F80, even) and 1 + 2^-7 (0x3F81): ties go to even.
        assertEquals((short) 0x3F80, SafetensorsWriter.toBf16Bits(1.00390625f));
        // 1 + 3·2^-8 lies halfway between 0x3F81 and 0x3F82 (even).
        assertEquals((short) 0x3F82, SafetensorsWriter.toBf16Bits(1.01171875f));
        // Just above halfway rounds up.
        assertEquals((short) 0x3F81, SafetensorsWriter.toBf16Bits(Math.nextUp(1.00390625f)));
        assertEquals((short) 0xC000, SafetensorsWriter.toBf16Bits(-2.0f));
        assertTrue(Float.isNaN(Float.intBitsToFloat(SafetensorsWriter.toBf16Bits(Float.NaN) << 16)));
    }

    @Test
    void fileLayoutFollowsTheSafetensorsFormat() throws IOException {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("b", new Tensor(new long[]{3}, new double[]{1, 2, 3}));
        t.put("a", new Tensor(new long[]{2, 2}, new double[]{0.5, -0.25, 4, 8}));
        Path file = tmp.resolve("x.safetensors");
        SafetensorsWriter.write(file, t, DType.BF16);
        byte[] bytes = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header padded to a multiple of 8");
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertEquals(header.strip().length(), header.stripTrailing().length());
        JsonNode json = new ObjectMapper().readTree(header);
        assertEquals("pt", json.get("__metadata__").get("format").asText());
        // Sorted by name: "a" (8 bytes) first, then "b" (6 bytes).
        assertEquals("[0,8]", json.get("a").get("data_offsets").toString());
        assertEquals("[8,14]", json.get("b").get("data_offsets").toString());
        assertEquals("BF16", json.get("a").get("dtype").asText());
        assertEquals(8 + n + 14, bytes.length);
        // Data: bf16 little-endian; 0.5 = 0x3F00 → bytes 00 3F.
        assertEquals(0x00, bytes[8 + (int) n] & 0xFF);
        assertEquals(0x3F, bytes[8 + (int) n + 1] & 0xFF);
    }

    @Test
    void readerDecodesEveryDtypeExactly() throws IOException {
        double[] values = {0.1, -3.75, 1e-3, 65504, -0.0, 1.00390625, 123.456};
        for (DType dtype : DType.values()) {
            Path file = tmp.resolve(dtype + ".safetensors");
            Map<String, Tensor> t = Map.of("w", new Tensor(new long[]{values.length}, values));
            SafetensorsWriter.write(file, t, dtype);
            Path dir = Files.createDirectories(tmp.resolve(dtype.name()));
            Files.move(file, dir.resolve(SafetensorsReader.SINGLE_FILE));
            double[] read = SafetensorsReader.openCheckpoint(dir).read("w", values.length);
            double[] expected = Arrays.stream(values).map(v -> SafetensorsWriter.roundTrip(v, dtype)).toArray();
            assertArrayEquals(expected, read, 0, dtype.name());
        }
        // Spot-check the rounding itself: 0.1 in bf16 is 0x3DCD = 0.10009765625.
        assertEquals(0.10009765625, SafetensorsWriter.roundTrip(0.1, DType.BF16), 0);
        assertEquals(0.0999755859375, SafetensorsWriter.roundTrip(0.1, DType.F16), 0);
    }

    @Test
    void checkpointTensorsReadBackAsTheirRoundedValues() {
        Spec spec = TestCheckpoints.TOP1;
        Path dir = TestCheckpoints.write(tmp.resolve("c"), spec, 5, DType.BF16);
        SafetensorsReader reader = SafetensorsReader.openCheckpoint(dir);
        Map<String, Tensor> weights = TestCheckpoints.randomWeights(spec, 5);
        assertEquals(weights.keySet(), reader.entries().keySet());
        for (Map.Entry<String, Tensor> e : weights.entrySet()) {
            double[] expected = Arrays.stream(e.getValue().values())
                    .map(v -> SafetensorsWriter.roundTrip(v, DType.BF16)).toArray();
            assertArrayEquals(expected, reader.read(e.getKey(), e.getValue().shape()), 0, e.getKey());
        }
    }

    @Test
    void generatorIsDeterministicPerSeedAndRoughlyCalibrated() {
        Spec spec = TestCheckpoints.GQA;
        Map<String, Tensor> a = TestCheckpoints.randomWeights(spec, 1);
        Map<String, Tensor> b = TestCheckpoints.randomWeights(spec, 1);
        Map<String, Tensor> c = TestCheckpoints.randomWeights(spec, 2);
        String q = "model.layers.1.self_attn.q_proj.weight";
        assertArrayEquals(a.get(q).values(), b.get(q).values(), 0);
        assertFalse(Arrays.equals(a.get(q).values(), c.get(q).values()));
        assertEquals(1.0 / Math.sqrt(spec.hidden()), std(a.get(q).values()), 0.02);
        assertEquals(1.0, mean(a.get("model.norm.weight").values()), 0.05);
        // Tensors differ from each other, also across layers and experts.
        assertFalse(Arrays.equals(a.get("model.layers.0.block_sparse_moe.experts.0.w1.weight").values(),
                a.get("model.layers.0.block_sparse_moe.experts.1.w1.weight").values()));
    }

    @Test
    void configJsonHasTheHuggingFaceFields() throws IOException {
        JsonNode c = new ObjectMapper().readTree(TestCheckpoints.configJson(TestCheckpoints.GQA, DType.BF16));
        assertEquals("MixtralForCausalLM", c.get("architectures").get(0).asText());
        assertEquals("mixtral", c.get("model_type").asText());
        assertEquals(2, c.get("num_key_value_heads").asInt());
        assertEquals("bfloat16", c.get("torch_dtype").asText());
        assertFalse(c.has("head_dim"), "head_dim equals hidden/heads, so it is left to the default like Mixtral's");
        assertTrue(c.get("sliding_window").isNull());
        JsonNode wide = new ObjectMapper().readTree(TestCheckpoints.configJson(TestCheckpoints.WIDE_HEAD, DType.F32));
        assertEquals(32, wide.get("head_dim").asInt());
        Path dir = TestCheckpoints.write(tmp.resolve("wide"), TestCheckpoints.WIDE_HEAD, 3, DType.F32);
        ReferenceConfig read = ReferenceConfig.read(dir.resolve("config.json"));
        assertEquals(32, read.headDim());
        assertEquals(TestCheckpoints.WIDE_HEAD.ropeTheta(), read.ropeTheta(), 0);
    }

    @Test
    void shardedCheckpointGivesTheSameLogitsAsASingleFile() throws IOException {
        Spec spec = TestCheckpoints.TOP2;
        Path sharded = TestCheckpoints.writeSharded(tmp.resolve("sharded"), spec, 17, DType.BF16, 3);
        Path single = TestCheckpoints.write(tmp.resolve("single"), spec, 17, DType.BF16);
        assertTrue(Files.exists(sharded.resolve("model-00002-of-00003.safetensors")));
        JsonNode index = new ObjectMapper().readTree(sharded.resolve(SafetensorsReader.INDEX_FILE).toFile());
        long shardBytes = 0;
        for (int s = 1; s <= 3; s++) {
            Path f = sharded.resolve(String.format("model-%05d-of-00003.safetensors", s));
            long n = ByteBuffer.wrap(Files.readAllBytes(f), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
            shardBytes += Files.size(f) - 8 - n;
        }
        assertEquals(shardBytes, index.get("metadata").get("total_size").asLong());
        int[] tokens = {3, 14, 15, 92, 65, 35, 89, 79};
        double[][] a = ReferenceMixtral.load(sharded).forward(tokens);
        double[][] b = ReferenceMixtral.load(single).forward(tokens);
        for (int t = 0; t < tokens.length; t++) {
            assertArrayEquals(b[t], a[t], 0);
        }
    }

    @Test
    void corruptFilesAreRejected() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("bad"));
        Path file = dir.resolve(SafetensorsReader.SINGLE_FILE);
        SafetensorsWriter.write(file, Map.of("w", new Tensor(new long[]{4}, new double[]{1, 2, 3, 4})), DType.F32);
        byte[] good = Files.readAllBytes(file);

        Files.write(file, Arrays.copyOf(good, good.length - 2)); // truncated data
        IllegalArgumentException truncated = assertThrows(IllegalArgumentException.class,
                () -> SafetensorsReader.openCheckpoint(dir));
        assertTrue(truncated.getMessage().contains("w"), truncated.getMessage());

        byte[] hugeHeader = good.clone();
        ByteBuffer.wrap(hugeHeader).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        Files.write(file, hugeHeader);
        assertThrows(IllegalArgumentException.class, () -> SafetensorsReader.openCheckpoint(dir));

        Files.write(file, appendBytes(good, 4)); // 4 stray bytes after the last tensor: a hole at the end
        IllegalArgumentException hole = assertThrows(IllegalArgumentException.class,
                () -> SafetensorsReader.openCheckpoint(dir));
        assertTrue(hole.getMessage().contains("cover"), hole.getMessage());

        Files.write(file, good);
        SafetensorsReader ok = SafetensorsReader.openCheckpoint(dir);
        IllegalArgumentException shape = assertThrows(IllegalArgumentException.class, () -> ok.read("w", 2, 2));
        assertTrue(shape.getMessage().contains("[4]") && shape.getMessage().contains("[2, 2]"), shape.getMessage());

        Path empty = Files.createDirectories(tmp.resolve("empty"));
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> ReferenceMixtral.load(empty));
        assertTrue(none.getMessage().contains("config.json"), none.getMessage());
    }

    private static byte[] appendBytes(byte[] a, int extra) {
        return Arrays.copyOf(a, a.length + extra);
    }

    private static double mean(double[] v) {
        return Arrays.stream(v).average().orElseThrow();
    }

    private static double std(double[] v) {
        double m = mean(v);
        return Math.sqrt(Arrays.stream(v).map(x -> (x - m) * (x - m)).average().orElseThrow());
    }
}
