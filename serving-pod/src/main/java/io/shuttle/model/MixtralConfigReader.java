package io.shuttle.model;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reads a Hugging Face {@code config.json} of a Mixtral model into a {@link ModelConfig}.
 *
 * <p>Required: {@code model_type} ("mixtral"), {@code vocab_size}, {@code hidden_size},
 * {@code intermediate_size}, {@code num_hidden_layers}, {@code num_attention_heads},
 * {@code num_local_experts}, {@code num_experts_per_tok}. Defaults when absent or null:
 * {@code num_key_value_heads} = heads, {@code head_dim} = hidden / heads, {@code rms_norm_eps}
 * 1e-5, {@code rope_theta} 1e6 (or {@code rope_parameters.rope_theta}, as Transformers v5 writes),
 * {@code max_position_embeddings} 131072 (Transformers' default), {@code tie_word_embeddings}
 * false, {@code bos_token_id} 1, {@code eos_token_id} 2 (first element when it is a list).
 * Settings the engine would silently get wrong are refused: {@code hidden_act} other than silu,
 * a {@code sliding_window} shorter than the context, and RoPE scaling.
 */
public final class MixtralConfigReader {

    public static final String FILE_NAME = "config.json";

    private MixtralConfigReader() {
    }

    /** Reads {@code dir/config.json}. */
    public static ModelConfig read(Path dir) {
        Path file = dir.resolve(FILE_NAME);
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(dir + " has no " + FILE_NAME + "; a Hugging Face checkpoint folder needs "
                    + "config.json and model.safetensors (or model.safetensors.index.json) — create one with "
                    + "'shuttle model init' or download the full model folder", e);
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        JsonNode root;
        try {
            root = JsonMapper.builder().build().readTree(text);
        } catch (JacksonException e) {
            throw new CheckpointException(file + ": not valid JSON (" + e.getOriginalMessage() + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointException(file + ": must hold a JSON object");
        }
        return parse(file.toString(), root);
    }

    /** Parses an already-read config object; {@code file} names it in error messages. */
    public static ModelConfig parse(String file, JsonNode root) {
        Fields f = new Fields(file, root);
        String modelType = f.requiredText("model_type");
        if (!modelType.equals("mixtral")) {
            throw new CheckpointException("unsupported model_type '" + modelType + "' in " + file + "; supported: mixtral");
        }
        f.requireAbsentOr("hidden_act", "silu", "Mixtral uses silu; other activations are not implemented");
        f.requireNoRopeScaling();
        int heads = f.requiredInt("num_attention_heads");
        int hidden = f.requiredInt("hidden_size");
        int maxPositions = f.optionalInt("max_position_embeddings", 4096 * 32);
        f.requireNoSlidingWindowBelow(maxPositions);
        try {
            return new ModelConfig(
                    modelType,
                    f.requiredInt("vocab_size"),
                    hidden,
                    f.requiredInt("intermediate_size"),
                    f.requiredInt("num_hidden_layers"),
                    heads,
                    f.optionalInt("num_key_value_heads", heads),
                    f.optionalInt("head_dim", heads > 0 ? hidden / heads : 0),
                    f.requiredInt("num_local_experts"),
                    f.requiredInt("num_experts_per_tok"),
                    (float) f.optionalNumber("rms_norm_eps", 1e-5),
                    (float) f.optionalNumber("rope_theta", f.ropeParametersTheta(1e6)),
                    maxPositions,
                    f.optionalBoolean("tie_word_embeddings", false),
                    f.optionalTokenId("bos_token_id", 1),
                    f.optionalTokenId("eos_token_id", 2));
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file + ": " + e.getMessage() + " (fix config.json)", e);
        }
    }

    /** Typed access to config fields, with errors naming the file and the field. */
    private record Fields(String file, JsonNode root) {

        JsonNode present(String name) {
            JsonNode v = root.get(name);
            return v == null || v.isNull() ? null : v;
        }

        CheckpointException missing(String name) {
            return new CheckpointException(file + ": missing required field '" + name + "' (fix config.json)");
        }

        CheckpointException wrongType(String name, String want, JsonNode got) {
            return new CheckpointException(file + ": field '" + name + "' must be " + want + ", got " + got
                    + " (fix config.json)");
        }

        String requiredText(String name) {
            JsonNode v = present(name);
            if (v == null) {
                throw missing(name);
            }
            if (!v.isTextual()) {
                throw wrongType(name, "a string", v);
            }
            return v.textValue();
        }

        int requiredInt(String name) {
            if (present(name) == null) {
                throw missing(name);
            }
            return optionalInt(name, 0);
        }

        int optionalInt(String name, int fallback) {
            JsonNode v = present(name);
            if (v == null) {
                return fallback;
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw wrongType(name, "an integer", v);
            }
            return v.intValue();
        }

        double optionalNumber(String name, double fallback) {
            JsonNode v = present(name);
            if (v == null) {
                return fallback;
            }
            if (!v.isNumber()) {
                throw wrongType(name, "a number", v);
            }
            return v.doubleValue();
        }

        boolean optionalBoolean(String name, boolean fallback) {
            JsonNode v = present(name);
            if (v == null) {
                return fallback;
            }
            if (!v.isBoolean()) {
                throw wrongType(name, "true or false", v);
            }
            return v.booleanValue();
        }

        int optionalTokenId(String name, int fallback) {
            JsonNode v = present(name);
            if (v != null && v.isArray()) {
                if (v.isEmpty() || !v.get(0).canConvertToInt()) {
                    throw wrongType(name, "an integer or a non-empty list of integers", v);
                }
                return v.get(0).intValue();
            }
            return optionalInt(name, fallback);
        }

        double ropeParametersTheta(double fallback) {
            JsonNode theta = root.path("rope_parameters").path("rope_theta");
            return theta.isNumber() ? theta.doubleValue() : fallback;
        }

        void requireAbsentOr(String name, String allowed, String why) {
            JsonNode v = present(name);
            if (v != null && !(v.isTextual() && v.textValue().equals(allowed))) {
                throw new CheckpointException(file + ": " + name + " " + v + " is not supported; " + why);
            }
        }

        void requireNoRopeScaling() {
            for (String key : new String[] {"rope_scaling", "rope_parameters"}) {
                JsonNode v = present(key);
                String type = v == null ? "default" : v.path("rope_type").asText(v.path("type").asText("default"));
                if (!type.equals("default")) {
                    throw new CheckpointException(file + ": " + key + " with rope_type '" + type
                            + "' is not supported; only plain RoPE (rope_theta) is implemented");
                }
            }
        }

        void requireNoSlidingWindowBelow(int maxPositions) {
            int window = optionalInt("sliding_window", Integer.MAX_VALUE);
            if (window < maxPositions) {
                throw new CheckpointException(file + ": sliding_window " + window + " is not supported (attention "
                        + "here is over the full context); set it to null in config.json if prompts plus output "
                        + "stay under " + window + " tokens");
            }
        }
    }
}
