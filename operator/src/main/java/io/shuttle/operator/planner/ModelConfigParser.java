package io.shuttle.operator.planner;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Reads the planner's {@link ModelShape} from a Hugging Face {@code config.json}.
 *
 * <p>Besides Mixtral ({@code num_local_experts}) it accepts the field names of other MoE
 * families, so the planner can size them too: Qwen-MoE/OLMoE ({@code num_experts},
 * {@code moe_intermediate_size}), DeepSeek ({@code n_routed_experts}) and DBRX (nested
 * {@code ffn_config}/{@code attn_config}, {@code d_model}, {@code n_layers}). A multimodal config
 * whose language model sits under {@code text_config} is read from there. Shared experts and
 * DeepSeek's latent attention are not modelled (see docs/PLANNER.md).
 */
final class ModelConfigParser {

    private static final String FILE_NAME = "config.json";

    private ModelConfigParser() {
    }

    static ModelShape read(Path configJsonOrDir) {
        Path file = Files.isDirectory(configJsonOrDir) ? configJsonOrDir.resolve(FILE_NAME) : configJsonOrDir;
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ModelConfigException("no such file: " + file + " (pass a Hugging Face config.json or a model "
                    + "folder that holds one)", e);
        } catch (IOException e) {
            throw new ModelConfigException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        Path folder = file.toAbsolutePath().getParent();
        String fallbackName = folder != null && folder.getFileName() != null ? folder.getFileName().toString() : "model";
        return parse(file.toString(), text, fallbackName);
    }

    static ModelShape parse(String source, String json, String fallbackName) {
        JsonNode root;
        try {
            root = JsonMapper.builder().build().readTree(json);
        } catch (JacksonException e) {
            throw new ModelConfigException(source + ": not valid JSON (" + e.getOriginalMessage() + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelConfigException(source + ": must hold a JSON object (a Hugging Face config.json)");
        }
        JsonNode text = root.get("text_config");
        if (text != null && text.isObject() && !root.has("num_hidden_layers") && !root.has("n_layers")) {
            root = text;
        }
        Fields f = new Fields(source, root);
        Integer experts = f.firstInt("num_local_experts", "num_experts", "n_routed_experts", "ffn_config.moe_num_experts");
        if (experts == null) {
            throw new ModelConfigException(source + " is not a Mixture-of-Experts config: it has none of "
                    + "num_local_experts, num_experts, n_routed_experts, ffn_config.moe_num_experts "
                    + "(the planner sizes MoE models such as Mixtral)");
        }
        int hidden = f.required("hidden_size", "d_model");
        int heads = f.required("num_attention_heads", "n_heads");
        Integer kvHeads = f.firstInt("num_key_value_heads", "attn_config.kv_n_heads");
        Integer headDim = f.firstInt("head_dim");
        String name = f.text("_name_or_path");
        try {
            return new ModelShape(
                    name != null && !name.isBlank() ? name : fallbackName,
                    f.required("num_hidden_layers", "n_layers"),
                    hidden,
                    f.required("moe_intermediate_size", "intermediate_size", "ffn_config.ffn_hidden_size"),
                    experts,
                    f.required("num_experts_per_tok", "ffn_config.moe_top_k", "moe_top_k"),
                    heads,
                    kvHeads != null ? kvHeads : heads,
                    headDim != null ? headDim : hidden / heads,
                    f.required("vocab_size"),
                    bytesPerParam(source, f.text("torch_dtype") != null ? f.text("torch_dtype") : f.text("dtype")));
        } catch (ModelConfigException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new ModelConfigException(source + ": " + e.getMessage(), e);
        }
    }

    private static int bytesPerParam(String source, String dtype) {
        if (dtype == null) {
            return 2; // the paper serves bf16; HF configs without a dtype are almost always 16-bit
        }
        return switch (dtype.toLowerCase(Locale.ROOT)) {
            case "bfloat16", "float16", "fp16", "bf16", "half" -> 2;
            case "float32", "fp32", "float" -> 4;
            case "float8_e4m3fn", "float8_e5m2", "fp8", "int8" -> 1;
            default -> throw new ModelConfigException(source + ": unsupported torch_dtype '" + dtype
                    + "' (supported: bfloat16, float16, float32, float8)");
        };
    }

    /** Typed access to possibly nested ({@code a.b}) fields, with errors naming the file and field. */
    private record Fields(String source, JsonNode root) {

        JsonNode node(String dotted) {
            JsonNode n = root;
            for (String part : dotted.split("\\.")) {
                n = n == null ? null : n.get(part);
            }
            return n == null || n.isNull() ? null : n;
        }

        Integer firstInt(String... names) {
            for (String name : names) {
                JsonNode n = node(name);
                if (n != null) {
                    if (!n.canConvertToInt() || !n.isIntegralNumber()) {
                        throw new ModelConfigException(source + ": field '" + name + "' must be an integer, got " + n);
                    }
                    return n.intValue();
                }
            }
            return null;
        }

        int required(String... names) {
            Integer v = firstInt(names);
            if (v == null) {
                throw new ModelConfigException(source + ": missing required field "
                        + (names.length == 1 ? "'" + names[0] + "'" : "(one of " + List.of(names) + ")")
                        + " (fix config.json)");
            }
            return v;
        }

        String text(String name) {
            JsonNode n = node(name);
            return n != null && n.isTextual() ? n.textValue() : null;
        }
    }
}
