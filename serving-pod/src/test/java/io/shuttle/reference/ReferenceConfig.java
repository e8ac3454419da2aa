package io.shuttle.reference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The Mixtral hyperparameters the reference forward pass needs, read from a Hugging Face {@code config.json} with
 * Jackson directly (not through the engine's config class, so both cannot share a parsing bug).
 *
 * <p>Defaults follow {@code MixtralConfig.__init__}: {@code rms_norm_eps} 1e-5, {@code rope_theta} 1e6,
 * {@code tie_word_embeddings} false, {@code head_dim} hidden/heads, {@code sliding_window} none.
 *
 * @param slidingWindow 0 when the config has no window ({@code null}); otherwise HF's window length
 */
record ReferenceConfig(int hidden, int intermediate, int layers, int heads, int kvHeads, int headDim, int experts,
                       int topK, double eps, double ropeTheta, int vocab, boolean tieEmbeddings, int slidingWindow) {

    ReferenceConfig {
        require(hidden > 0 && intermediate > 0 && layers > 0 && heads > 0 && kvHeads > 0 && headDim > 0
                && experts > 0 && vocab > 0, "all sizes must be positive");
        require(heads % kvHeads == 0, "num_attention_heads " + heads + " is not a multiple of num_key_value_heads "
                + kvHeads);
        require(headDim % 2 == 0, "head_dim " + headDim + " must be even for rotary embeddings");
        require(topK >= 1 && topK <= experts, "num_experts_per_tok " + topK + " must be in [1, " + experts + "]");
        require(eps >= 0 && ropeTheta > 0, "rms_norm_eps must be >= 0 and rope_theta > 0");
        require(slidingWindow >= 0, "sliding_window must be positive or null");
    }

    static ReferenceConfig read(Path configJson) {
        JsonNode c;
        try {
            c = new ObjectMapper().readTree(Files.readString(configJson));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + configJson + ": " + e.getMessage(), e);
        }
        String act = c.path("hidden_act").asText("silu");
        if (!act.equals("silu")) {
            throw new IllegalArgumentException(configJson + ": hidden_act " + act + " is not supported (Mixtral uses silu)");
        }
        JsonNode scaling = c.get("rope_scaling");
        if (scaling != null && !scaling.isNull()) {
            String type = scaling.path("rope_type").asText(scaling.path("type").asText("default"));
            if (!type.equals("default")) {
                throw new IllegalArgumentException(configJson + ": rope_scaling type " + type
                        + " is not implemented by the reference model");
            }
        }
        int hidden = requiredInt(c, "hidden_size", configJson);
        int heads = requiredInt(c, "num_attention_heads", configJson);
        JsonNode headDimNode = c.get("head_dim");
        int headDim = headDimNode == null || headDimNode.isNull() ? hidden / heads : headDimNode.asInt();
        // Transformers v5 may nest rope_theta in rope_parameters; Hub files carry it at the top level.
        JsonNode theta = c.get("rope_theta");
        if (theta == null || theta.isNull()) {
            theta = c.path("rope_parameters").get("rope_theta");
        }
        JsonNode window = c.get("sliding_window");
        return new ReferenceConfig(
                hidden,
                requiredInt(c, "intermediate_size", configJson),
                requiredInt(c, "num_hidden_layers", configJson),
                heads,
                c.has("num_key_value_heads") && !c.get("num_key_value_heads").isNull()
                        ? c.get("num_key_value_heads").asInt() : heads,
                headDim,
                requiredInt(c, "num_local_experts", configJson),
                requiredInt(c, "num_experts_per_tok", configJson),
                c.path("rms_norm_eps").asDouble(1e-5),
                theta == null || theta.isNull() ? 1e6 : theta.asDouble(),
                requiredInt(c, "vocab_size", configJson),
                c.path("tie_word_embeddings").asBoolean(false),
                window == null || window.isNull() ? 0 : window.asInt());
    }

    private static int requiredInt(JsonNode c, String field, Path file) {
        JsonNode n = c.get(field);
        if (n == null || !n.canConvertToInt()) {
            throw new IllegalArgumentException(file + ": missing or non-integer field \"" + field + "\"");
        }
        return n.asInt();
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException("invalid Mixtral config: " + message);
        }
    }
}
