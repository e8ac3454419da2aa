package io.shuttle.model;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.shuttle.kernels.DType;
import io.shuttle.model.safetensors.JsonText;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a full Hugging Face Mixtral {@code config.json} (every field {@code MixtralConfig} has,
 * formatted as {@code PretrainedConfig.to_json_file} does: sorted keys, 2-space indent).
 */
public final class MixtralConfigWriter {

    private MixtralConfigWriter() {
    }

    /** The config as JSON; {@code dtype} becomes {@code torch_dtype}. */
    public static ObjectNode toJson(ModelConfig c, DType dtype) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.putArray("architectures").add("MixtralForCausalLM");
        o.put("attention_dropout", 0.0);
        o.put("bos_token_id", c.bosTokenId());
        o.put("eos_token_id", c.eosTokenId());
        o.put("head_dim", c.headDim());
        o.put("hidden_act", "silu");
        o.put("hidden_size", c.hiddenSize());
        o.put("initializer_range", 0.02);
        o.put("intermediate_size", c.intermediateSize());
        o.put("max_position_embeddings", c.maxPositionEmbeddings());
        o.put("model_type", "mixtral");
        o.put("num_attention_heads", c.numHeads());
        o.put("num_experts_per_tok", c.topK());
        o.put("num_hidden_layers", c.numLayers());
        o.put("num_key_value_heads", c.numKvHeads());
        o.put("num_local_experts", c.numExperts());
        o.put("output_router_logits", false);
        o.put("rms_norm_eps", c.rmsNormEps());
        o.put("rope_theta", c.ropeTheta());
        o.put("router_aux_loss_coef", 0.02);
        o.put("router_jitter_noise", 0.0);
        o.putNull("sliding_window");
        o.put("tie_word_embeddings", c.tieWordEmbeddings());
        o.put("torch_dtype", torchDtype(dtype));
        o.put("use_cache", true);
        o.put("vocab_size", c.vocabSize());
        return o;
    }

    /** Writes {@code dir/config.json}. */
    public static void write(Path dir, ModelConfig c, DType dtype) {
        Path file = dir.resolve(MixtralConfigReader.FILE_NAME);
        try {
            Files.writeString(file, JsonText.pythonPretty(toJson(c, dtype)) + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot write (" + e.getMessage() + ")", e);
        }
    }

    /** PyTorch's name of a dtype as config.json spells it. */
    public static String torchDtype(DType dtype) {
        return switch (dtype) {
            case F32 -> "float32";
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            case I32 -> throw new IllegalArgumentException("weights cannot be I32");
        };
    }
}
