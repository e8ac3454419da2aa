package io.shuttle.operator.planner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelShapeTest {

    static final Path MIXTRAL_8X22B = Path.of("src/test/resources/planner/mixtral-8x22b");

    @Test
    void readsTheRealMixtral8x22bConfigFromFolderOrFile() {
        ModelShape fromDir = ModelShape.fromConfigJson(MIXTRAL_8X22B);
        ModelShape fromFile = ModelShape.fromConfigJson(MIXTRAL_8X22B.resolve("config.json"));
        assertEquals(fromDir, fromFile);
        assertEquals("mixtral-8x22b", fromDir.name()); // the folder, as the config has no _name_or_path
        ModelShape preset = ModelShape.mixtral8x22b();
        assertEquals(new ModelShape(fromDir.name(), preset.layers(), preset.hidden(), preset.intermediate(),
                preset.experts(), preset.topK(), preset.heads(), preset.kvHeads(), preset.headDim(), preset.vocab(),
                preset.bytesPerParam()), fromDir);
    }

    @Test
    void parameterCountsMatchThePublishedSizes() {
        // Mistral AI: Mixtral-8x22B has 141B parameters, Mixtral-8x7B 46.7B
        assertEquals(141e9, ModelShape.mixtral8x22b().totalParams(), 0.5e9);
        assertEquals(46.7e9, ModelShape.mixtral8x7b().totalParams(), 0.1e9);
        // PAPER.md: KV per token per layer 4h/g = 4·6144/6 = 4096 B; × 56 layers ≈ 224 KiB
        ModelShape m = ModelShape.mixtral8x22b();
        assertEquals(4096, m.kvBytesPerTokenPerLayer());
        assertEquals(224 * 1024, m.kvBytesPerTokenPerLayer() * m.layers());
        // one expert, all layers: 3 · 6144 · 16384 · 56 · 2 B
        assertEquals(3.0 * 6144 * 16384 * 56 * 2, m.expertWeightBytes());
    }

    @Test
    void readsOtherMoeFamilies() {
        String dbrx = """
                {"model_type": "dbrx", "d_model": 6144, "n_heads": 48, "n_layers": 40, "vocab_size": 100352,
                 "attn_config": {"kv_n_heads": 8}, "ffn_config": {"ffn_hidden_size": 10752, "moe_num_experts": 16,
                 "moe_top_k": 4}, "torch_dtype": "bfloat16"}""";
        assertEquals(new ModelShape("model", 40, 6144, 10752, 16, 4, 48, 8, 128, 100352, 2),
                ModelShape.fromConfigJson(dbrx));
        String qwen = """
                {"_name_or_path": "Qwen/Qwen1.5-MoE-A2.7B", "hidden_size": 2048, "intermediate_size": 5632,
                 "moe_intermediate_size": 1408, "num_experts": 60, "num_experts_per_tok": 4, "num_hidden_layers": 24,
                 "num_attention_heads": 16, "num_key_value_heads": 16, "vocab_size": 151936, "torch_dtype": "float32"}""";
        ModelShape q = ModelShape.fromConfigJson(qwen);
        assertEquals(1408, q.intermediate());
        assertEquals(60, q.experts());
        assertEquals(4, q.bytesPerParam());
        assertEquals("Qwen/Qwen1.5-MoE-A2.7B", q.name());
    }

    @Test
    void missingFileNamesThePath(@TempDir Path dir) {
        var e = assertThrows(ModelConfigException.class, () -> ModelShape.fromConfigJson(dir));
        assertTrue(e.getMessage().contains(dir.resolve("config.json").toString()), e.getMessage());
        assertTrue(e.getMessage().startsWith("no such file"), e.getMessage());
    }

    @Test
    void denseModelIsRejectedAsNotMoe(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("config.json");
        Files.writeString(f, """
                {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                 "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256}""");
        var e = assertThrows(ModelConfigException.class, () -> ModelShape.fromConfigJson(f));
        assertTrue(e.getMessage().contains("is not a Mixture-of-Experts config"), e.getMessage());
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
    }

    @Test
    void badFieldsAreNamed() {
        var missing = assertThrows(ModelConfigException.class, () -> ModelShape.fromConfigJson("""
                {"num_local_experts": 8, "num_experts_per_tok": 2, "hidden_size": 64, "num_attention_heads": 4,
                 "num_hidden_layers": 2, "vocab_size": 100}"""));
        assertTrue(missing.getMessage().contains("intermediate_size"), missing.getMessage());
        var wrongType = assertThrows(ModelConfigException.class, () -> ModelShape.fromConfigJson("""
                {"num_local_experts": "eight"}"""));
        assertTrue(wrongType.getMessage().contains("'num_local_experts' must be an integer"), wrongType.getMessage());
        var notJson = assertThrows(ModelConfigException.class, () -> ModelShape.fromConfigJson("{oops"));
        assertTrue(notJson.getMessage().contains("not valid JSON"), notJson.getMessage());
        var topK = assertThrows(ModelConfigException.class, () -> ModelShape.fromConfigJson("""
                {"num_local_experts": 8, "num_experts_per_tok": 9, "hidden_size": 64, "intermediate_size": 128,
                 "num_attention_heads": 4, "num_hidden_layers": 2, "vocab_size": 100}"""));
        assertTrue(topK.getMessage().contains("experts per token (9)"), topK.getMessage());
    }
}
