package io.shuttle.model.init;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.shuttle.cli.ShuttleCli;
import io.shuttle.kernels.DType;
import io.shuttle.model.Checkpoint;
import io.shuttle.model.TensorInfo;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code shuttle model init} end to end through the real command line. */
class ModelInitCommandTest {

    @TempDir
    Path dir;

    private record Run(int exit, String out, String err) {
    }

    private static Run shuttle(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = ShuttleCli.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    /** The tiny preset's tensors, spelled out here rather than taken from the code under test. */
    private static Map<String, List<Long>> expectedTinyTensors() {
        Map<String, List<Long>> t = new LinkedHashMap<>();
        t.put("model.embed_tokens.weight", List.of(512L, 64L));
        t.put("model.norm.weight", List.of(64L));
        t.put("lm_head.weight", List.of(512L, 64L));
        for (int l = 0; l < 2; l++) {
            String p = "model.layers." + l + ".";
            t.put(p + "input_layernorm.weight", List.of(64L));
            t.put(p + "post_attention_layernorm.weight", List.of(64L));
            t.put(p + "self_attn.q_proj.weight", List.of(64L, 64L));
            t.put(p + "self_attn.k_proj.weight", List.of(32L, 64L));
            t.put(p + "self_attn.v_proj.weight", List.of(32L, 64L));
            t.put(p + "self_attn.o_proj.weight", List.of(64L, 64L));
            t.put(p + "block_sparse_moe.gate.weight", List.of(4L, 64L));
            for (int e = 0; e < 4; e++) {
                String x = p + "block_sparse_moe.experts." + e + ".";
                t.put(x + "w1.weight", List.of(128L, 64L));
                t.put(x + "w2.weight", List.of(64L, 128L));
                t.put(x + "w3.weight", List.of(128L, 64L));
            }
        }
        return t;
    }

    @Test
    void tinyPresetIsAValidCheckpointWithExactlyTheExpectedTensors() throws IOException {
        Path out = dir.resolve("tiny");
        Run run = shuttle("model", "init", "--preset", "tiny", "--seed", "7", "--out", out.toString(), "--dtype", "f32");
        assertEquals(0, run.exit(), run.err());
        assertTrue(run.out().contains("287,552 parameters"), run.out());
        assertTrue(Files.isRegularFile(out.resolve("tokenizer.json")));
        assertTrue(Files.isRegularFile(out.resolve("tokenizer_config.json")));
        assertTrue(Files.readString(out.resolve("config.json")).contains("\"torch_dtype\": \"float32\""));
        Map<String, List<Long>> expected = expectedTinyTensors();
        try (Checkpoint ckpt = Checkpoint.open(out)) {
            assertEquals(new TreeSet<>(expected.keySet()), ckpt.tensorNames());
            for (var e : expected.entrySet()) {
                TensorInfo info = ckpt.info(e.getKey());
                assertEquals(e.getValue(), Arrays.stream(info.shape()).boxed().toList(), e.getKey());
                assertEquals(DType.F32, info.dtype());
            }
        }
    }

    @Test
    void defaultDtypeIsBf16() {
        Path out = dir.resolve("bf16");
        assertEquals(0, shuttle("model", "init", "--preset", "tiny", "--out", out.toString()).exit());
        try (Checkpoint ckpt = Checkpoint.open(out)) {
            assertEquals(DType.BF16, ckpt.info("model.embed_tokens.weight").dtype());
        }
    }

    @Test
    void sameSeedGivesIdenticalFilesAndAnotherSeedDifferentWeights() throws IOException {
        for (String[] run : new String[][] {{"a", "3"}, {"b", "3"}, {"c", "4"}}) {
            assertEquals(0, shuttle("model", "init", "--preset", "tiny", "--seed", run[1], "--out",
                    dir.resolve(run[0]).toString()).exit());
        }
        List<String> files = fileNames(dir.resolve("a"));
        assertEquals(List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"), files);
        assertEquals(files, fileNames(dir.resolve("b")));
        for (String f : files) {
            assertArrayEquals(Files.readAllBytes(dir.resolve("a").resolve(f)), Files.readAllBytes(dir.resolve("b").resolve(f)), f);
        }
        assertFalse(Arrays.equals(Files.readAllBytes(dir.resolve("a/model.safetensors")),
                Files.readAllBytes(dir.resolve("c/model.safetensors"))));
        assertArrayEquals(Files.readAllBytes(dir.resolve("a/config.json")), Files.readAllBytes(dir.resolve("c/config.json")));
    }

    @Test
    void refusesANonEmptyFolderUnlessForced() throws IOException {
        Path out = Files.createDirectories(dir.resolve("busy"));
        Files.writeString(out.resolve("notes.txt"), "keep me");
        Run refused = shuttle("model", "init", "--preset", "tiny", "--out", out.toString());
        assertEquals(1, refused.exit());
        assertTrue(refused.err().contains("not empty") && refused.err().contains("--force"), refused.err());
        assertFalse(Files.exists(out.resolve("model.safetensors")));

        assertEquals(0, shuttle("model", "init", "--preset", "tiny", "--out", out.toString(), "--force").exit());
        assertEquals("keep me", Files.readString(out.resolve("notes.txt")));
        Checkpoint.open(out).close();
    }

    @Test
    void shardedOutput() {
        Path out = dir.resolve("sharded");
        assertEquals(0, shuttle("model", "init", "--preset", "tiny", "--out", out.toString(), "--max-shard-size", "150KB").exit());
        assertTrue(Files.exists(out.resolve("model.safetensors.index.json")));
        try (Checkpoint ckpt = Checkpoint.open(out)) {
            assertTrue(ckpt.files().size() > 2, ckpt.files().toString());
            assertEquals(expectedTinyTensors().size(), ckpt.tensorNames().size());
        }
    }

    @Test
    void badArgumentsAreUsageErrors() {
        Run preset = shuttle("model", "init", "--preset", "huge", "--out", dir.resolve("x").toString());
        assertEquals(2, preset.exit());
        assertTrue(preset.err().contains("unknown preset 'huge'; available: tiny, small"), preset.err());
        Run dtype = shuttle("model", "init", "--preset", "tiny", "--out", dir.resolve("y").toString(), "--dtype", "f8");
        assertEquals(2, dtype.exit());
        assertTrue(dtype.err().contains("f32, bf16 or f16"), dtype.err());
        assertEquals(2, shuttle("model", "init", "--out", dir.resolve("z").toString()).exit());
    }

    @Test
    void infoSummarisesACheckpoint() {
        Path out = dir.resolve("info");
        assertEquals(0, shuttle("model", "init", "--preset", "tiny", "--out", out.toString()).exit());
        Run info = shuttle("model", "info", out.toString());
        assertEquals(0, info.exit(), info.err());
        assertTrue(info.out().contains("2 layers, hidden 64, 4 experts top-2") && info.out().contains("41 tensors"),
                info.out());
        Run missing = shuttle("model", "info", dir.resolve("absent").toString());
        assertEquals(1, missing.exit());
        assertTrue(missing.err().contains("does not exist"), missing.err());
    }

    private static List<String> fileNames(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return new ArrayList<>(s.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }
}
