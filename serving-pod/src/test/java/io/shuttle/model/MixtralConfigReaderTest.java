package io.shuttle.model;

import static io.shuttle.model.CheckpointTest.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.shuttle.kernels.DType;
import io.shuttle.model.init.Preset;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MixtralConfigReaderTest {

    @TempDir
    Path dir;

    /** What CPython's json.dumps(config_dict, indent=2, sort_keys=True) prints for the tiny preset (checked with python3). */
    private static final String TINY_CONFIG_JSON = """
            {
              "architectures": [
                "MixtralForCausalLM"
              ],
              "attention_dropout": 0.0,
              "bos_token_id": 1,
              "eos_token_id": 2,
              "head_dim": 16,
              "hidden_act": "silu",
              "hidden_size": 64,
              "initializer_range": 0.02,
              "intermediate_size": 128,
              "max_position_embeddings": 2048,
              "model_type": "mixtral",
              "num_attention_heads": 4,
              "num_experts_per_tok": 2,
              "num_hidden_layers": 2,
              "num_key_value_heads": 2,
              "num_local_experts": 4,
              "output_router_logits": false,
              "rms_norm_eps": 1e-05,
              "rope_theta": 10000.0,
              "router_aux_loss_coef": 0.02,
              "router_jitter_noise": 0.0,
              "sliding_window": null,
              "tie_word_embeddings": false,
              "torch_dtype": "float32",
              "use_cache": true,
              "vocab_size": 512
            }
            """;

    @Test
    void writerSpellsConfigJsonAsTransformersDoes() throws IOException {
        MixtralConfigWriter.write(dir, Preset.tiny().config(), DType.F32);
        assertEquals(TINY_CONFIG_JSON.stripIndent(), Files.readString(dir.resolve("config.json")));
    }

    @Test
    void writeThenReadGivesTheSameConfig() {
        for (ModelConfig c : new ModelConfig[] {Preset.tiny().config(), Preset.small().config(),
                Preset.tiny().toBuilder().numKvHeads(4).tieWordEmbeddings(true).headDim(32).build().config()}) {
            MixtralConfigWriter.write(dir, c, DType.BF16);
            assertEquals(c, MixtralConfigReader.read(dir));
        }
    }

    /** The published Mixtral-8x7B-v0.1 config.json; its known size is 46.7B parameters, 93.4 GB in bf16. */
    @Test
    void mixtral8x7bConfig() throws IOException {
        write("""
                {
                  "architectures": ["MixtralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1,
                  "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
                  "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mixtral",
                  "num_attention_heads": 32, "num_experts_per_tok": 2, "num_hidden_layers": 32,
                  "num_key_value_heads": 8, "num_local_experts": 8, "output_router_logits": false,
                  "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "router_aux_loss_coef": 0.02,
                  "sliding_window": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
                  "transformers_version": "4.36.0.dev0", "use_cache": true, "vocab_size": 32000
                }
                """);
        ModelConfig c = MixtralConfigReader.read(dir);
        assertEquals(128, c.headDim());
        assertEquals(1024, c.kvDim());
        assertEquals(1e-5f, c.rmsNormEps());
        assertEquals(32 * (4 + 1 + 8 * 3 + 2) + 3, MixtralLayout.tensors(c).size());
        assertEquals(46_702_792_704L, MixtralLayout.parameterCount(c));
    }

    @Test
    void minimalConfigGetsDefaults() throws IOException {
        write("""
                {"model_type": "mixtral", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 64,
                 "num_hidden_layers": 1, "num_attention_heads": 4, "num_local_experts": 2,
                 "num_experts_per_tok": 1, "num_key_value_heads": null}
                """);
        ModelConfig c = MixtralConfigReader.read(dir);
        assertEquals(4, c.numKvHeads());
        assertEquals(8, c.headDim());
        assertEquals(1e-5f, c.rmsNormEps());
        assertEquals(1e6f, c.ropeTheta());
        assertEquals(131072, c.maxPositionEmbeddings());
        assertEquals(false, c.tieWordEmbeddings());
        assertEquals(1, c.bosTokenId());
        assertEquals(2, c.eosTokenId());
    }

    @Test
    void ropeThetaFromTransformersV5RopeParameters() throws IOException {
        write(minimal(", \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 500000.0}"));
        assertEquals(5e5f, MixtralConfigReader.read(dir).ropeTheta());
    }

    @Test
    void unsupportedModelType() throws IOException {
        write(minimal("").replace("\"mixtral\"", "\"qwen2_moe\""));
        String msg = assertThrows(CheckpointException.class, () -> MixtralConfigReader.read(dir)).getMessage();
        assertEquals("unsupported model_type 'qwen2_moe' in " + dir.resolve("config.json") + "; supported: mixtral", msg);
    }

    @Test
    void missingRequiredField() throws IOException {
        write(minimal("").replace("\"num_local_experts\": 2,", ""));
        String msg = assertThrows(CheckpointException.class, () -> MixtralConfigReader.read(dir)).getMessage();
        assertContains(msg, dir.resolve("config.json").toString(), "missing required field 'num_local_experts'");
    }

    @Test
    void fieldOfTheWrongType() throws IOException {
        write(minimal("").replace("\"hidden_size\": 32", "\"hidden_size\": \"32\""));
        String msg = assertThrows(CheckpointException.class, () -> MixtralConfigReader.read(dir)).getMessage();
        assertContains(msg, "config.json", "'hidden_size' must be an integer");
    }

    @Test
    void inconsistentValuesAreReportedAgainstConfigJson() throws IOException {
        write(minimal(", \"num_key_value_heads\": 3"));
        String msg = assertThrows(CheckpointException.class, () -> MixtralConfigReader.read(dir)).getMessage();
        assertContains(msg, dir.resolve("config.json").toString(), "num_key_value_heads (3)");
    }

    @Test
    void settingsTheEngineWouldGetWrongAreRefused() throws IOException {
        write(minimal(", \"sliding_window\": 4096"));
        assertContains(assertThrows(CheckpointException.class, () -> MixtralConfigReader.read(dir)).getMessage(),
                "sliding_window 4096");
        write(minimal(", \"hidden_act\": \"gelu\""));
        assertContains(assertThrows(CheckpointException.class, () -> MixtralConfigReader.read(dir)).getMessage(),
                "hidden_act \"gelu\"");
        write(minimal(", \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}"));
        assertContains(assertThrows(CheckpointException.class, () -> MixtralConfigReader.read(dir)).getMessage(),
                "rope_type 'yarn'");
        write(minimal(", \"sliding_window\": null, \"hidden_act\": \"silu\", \"rope_scaling\": null"));
        assertEquals(32, MixtralConfigReader.read(dir).hiddenSize());
    }

    @Test
    void missingOrBrokenFile() throws IOException {
        assertContains(assertThrows(CheckpointException.class, () -> MixtralConfigReader.read(dir)).getMessage(),
                dir.toString(), "has no config.json");
        write("{\"model_type\": ");
        assertContains(assertThrows(CheckpointException.class, () -> MixtralConfigReader.read(dir)).getMessage(),
                "config.json", "not valid JSON");
    }

    private static String minimal(String extra) {
        return "{\"model_type\": \"mixtral\", \"vocab_size\": 100, \"hidden_size\": 32, \"intermediate_size\": 64, "
                + "\"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"num_local_experts\": 2, "
                + "\"num_experts_per_tok\": 1, \"max_position_embeddings\": 8192" + extra + "}";
    }

    private void write(String json) throws IOException {
        Files.writeString(dir.resolve("config.json"), json);
    }
}
