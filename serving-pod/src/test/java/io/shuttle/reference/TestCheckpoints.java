package io.shuttle.reference;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.shuttle.reference.SafetensorsWriter.DType;
import io.shuttle.reference.SafetensorsWriter.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Creates random-weight Mixtral checkpoints (config.json + safetensors, exactly in the Hugging Face layout) for
 * tests, independently of the project's own {@code shuttle model init} generator, so engine tests can run on
 * checkpoints not produced by the code under test.
 *
 * <p>Weights are seeded per tensor (seed mixed with the tensor name), so a tensor's values do not depend on which
 * other tensors exist. Distributions: nn.Linear weights N(0, 1/in) (σ = 1/√in), norm weights 1 + 0.1·N(0,1),
 * embeddings 0.5·N(0,1), router weights σ = 2/√in so routing is clearly non-uniform (fewer near-ties between
 * experts, which a float32 engine could resolve differently from the float64 reference).
 *
 * <p>The config carries {@code bos_token_id} 1 and {@code eos_token_id} 2 like Mixtral's; greedy comparisons that
 * must run a fixed number of steps should not stop at EOS.
 */
public final class TestCheckpoints {

    /** Hyperparameters of a test model; {@code headDim} may differ from hidden / heads (then config.json states it). */
    public record Spec(int hidden, int intermediate, int layers, int heads, int kvHeads, int headDim, int experts,
                       int topK, int vocab, double ropeTheta, double eps, boolean tieEmbeddings) {
        public Spec {
            if (hidden <= 0 || intermediate <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0
                    || experts <= 0 || vocab <= 0) {
                throw new IllegalArgumentException("all sizes must be positive: " + this);
            }
            if (heads % kvHeads != 0 || headDim % 2 != 0 || topK < 1 || topK > experts) {
                throw new IllegalArgumentException("need heads % kvHeads == 0, even headDim, 1 <= topK <= experts: "
                        + this);
            }
        }

        public Spec withTopK(int k) {
            return new Spec(hidden, intermediate, layers, heads, kvHeads, headDim, experts, k, vocab, ropeTheta, eps,
                    tieEmbeddings);
        }

        public Spec withTiedEmbeddings(boolean tie) {
            return new Spec(hidden, intermediate, layers, heads, kvHeads, headDim, experts, topK, vocab, ropeTheta,
                    eps, tie);
        }
    }

    /** Grouped-query attention: 4 query heads share 2 KV heads; 4 experts, top-2. */
    public static final Spec GQA = new Spec(64, 128, 2, 4, 2, 16, 4, 2, 256, 1e6, 1e-5, false);
    /** Multi-head attention (kv heads = heads), a different rope_theta. */
    public static final Spec MHA = new Spec(64, 128, 2, 4, 4, 16, 4, 2, 256, 1e4, 1e-5, false);
    /** Top-1 routing over 4 experts. */
    public static final Spec TOP1 = new Spec(64, 128, 2, 4, 2, 16, 4, 1, 256, 1e6, 1e-5, false);
    /** Top-2 routing over 6 experts, 3 layers. */
    public static final Spec TOP2 = new Spec(64, 96, 3, 4, 2, 16, 6, 2, 256, 1e6, 1e-5, false);
    /** Top-3 routing over 6 experts. */
    public static final Spec TOP3 = new Spec(64, 96, 2, 4, 2, 16, 6, 3, 256, 1e6, 1e-6, false);
    /** GQA with tie_word_embeddings: no lm_head.weight in the file. */
    public static final Spec TIED = GQA.withTiedEmbeddings(true);
    /** head_dim 32 ≠ hidden / heads = 16, so q_proj is [128, 64] and config.json must carry head_dim. */
    public static final Spec WIDE_HEAD = new Spec(64, 128, 2, 4, 2, 32, 4, 2, 256, 1e6, 1e-5, false);
    /** The largest preset: Mixtral's shape ratios (8 experts top-2, 4:1 GQA) at hidden 128, 4 layers. */
    public static final Spec MIXTRAL_SHAPED = new Spec(128, 256, 4, 8, 2, 16, 8, 2, 512, 1e6, 1e-5, false);

    /** All presets, for parameterised tests. */
    public static List<Spec> presets() {
        return List.of(GQA, MHA, TOP1, TOP2, TOP3, TIED, WIDE_HEAD, MIXTRAL_SHAPED);
    }

    private TestCheckpoints() {
    }

    /** Writes config.json and model.safetensors with seeded random weights into {@code dir} (created if needed). */
    public static Path write(Path dir, Spec spec, long seed, DType dtype) {
        return write(dir, spec, randomWeights(spec, seed), dtype);
    }

    /** Writes config.json and model.safetensors holding the given tensors (e.g. edited {@link #randomWeights}). */
    public static Path write(Path dir, Spec spec, Map<String, Tensor> tensors, DType dtype) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), configJson(spec, dtype));
            SafetensorsWriter.write(dir.resolve(SafetensorsReader.SINGLE_FILE), tensors, dtype);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write test checkpoint to " + dir, e);
        }
        return dir;
    }

    /**
     * Writes the same weights as {@link #write(Path, Spec, long, DType)} split into {@code shards} files named
     * {@code model-0000i-of-0000n.safetensors} plus {@code model.safetensors.index.json}, as HF's save_pretrained does.
     * Tensors are dealt to shards in name order, round-robin, so every shard holds some of every kind.
     */
    public static Path writeSharded(Path dir, Spec spec, long seed, DType dtype, int shards) {
        if (shards < 1) {
            throw new IllegalArgumentException("shards must be >= 1, got " + shards);
        }
        Map<String, Tensor> tensors = new TreeMap<>(randomWeights(spec, seed));
        List<Map<String, Tensor>> parts = new ArrayList<>();
        for (int s = 0; s < shards; s++) {
            parts.add(new LinkedHashMap<>());
        }
        int i = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            parts.get(i++ % shards).put(e.getKey(), e.getValue());
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode index = json.createObjectNode();
        ObjectNode weightMap = json.createObjectNode();
        long totalSize = 0;
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), configJson(spec, dtype));
            for (int s = 0; s < shards; s++) {
                String file = String.format("model-%05d-of-%05d.safetensors", s + 1, shards);
                totalSize += SafetensorsWriter.write(dir.resolve(file), parts.get(s), dtype);
                for (String name : parts.get(s).keySet()) {
                    weightMap.put(name, file);
                }
            }
            index.putObject("metadata").put("total_size", totalSize);
            index.set("weight_map", weightMap);
            Files.writeString(dir.resolve(SafetensorsReader.INDEX_FILE),
                    json.writerWithDefaultPrettyPrinter().writeValueAsString(index));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write sharded test checkpoint to " + dir, e);
        }
        return dir;
    }

    /** The HF config.json text for {@code spec}; {@code head_dim} is written only when it differs from hidden/heads. */
    public static String configJson(Spec spec, DType dtype) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = json.createObjectNode();
        c.putArray("architectures").add("MixtralForCausalLM");
        c.put("model_type", "mixtral");
        c.put("hidden_size", spec.hidden());
        c.put("intermediate_size", spec.intermediate());
        c.put("num_hidden_layers", spec.layers());
        c.put("num_attention_heads", spec.heads());
        c.put("num_key_value_heads", spec.kvHeads());
        if (spec.headDim() * spec.heads() != spec.hidden()) {
            c.put("head_dim", spec.headDim());
        }
        c.put("num_local_experts", spec.experts());
        c.put("num_experts_per_tok", spec.topK());
        c.put("rms_norm_eps", spec.eps());
        c.put("rope_theta", spec.ropeTheta());
        c.put("vocab_size", spec.vocab());
        c.put("tie_word_embeddings", spec.tieEmbeddings());
        c.put("max_position_embeddings", 4096);
        c.putNull("sliding_window");
        c.put("hidden_act", "silu");
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        c.put("router_aux_loss_coef", 0.02);
        c.put("router_jitter_noise", 0.0);
        c.put("output_router_logits", false);
        c.put("attention_dropout", 0.0);
        c.put("initializer_range", 0.02);
        c.put("use_cache", true);
        c.put("torch_dtype", switch (dtype) {
            case F32 -> "float32";
            case BF16 -> "bfloat16";
            case F16 -> "float16";
        });
        try {
            return json.writerWithDefaultPrettyPrinter().writeValueAsString(c) + "\n";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Seeded random weights for every tensor of {@code spec}, in HF names; the map is mutable so tests can edit it. */
    public static Map<String, Tensor> randomWeights(Spec spec, long seed) {
        Map<String, Tensor> t = new LinkedHashMap<>();
        int h = spec.hidden();
        int qDim = spec.heads() * spec.headDim();
        int kvDim = spec.kvHeads() * spec.headDim();
        t.put("model.embed_tokens.weight", gaussian(seed, "model.embed_tokens.weight", 0.0, 0.5, spec.vocab(), h));
        for (int l = 0; l < spec.layers(); l++) {
            String p = "model.layers." + l + ".";
            norm(t, seed, p + "input_layernorm.weight", h);
            linear(t, seed, p + "self_attn.q_proj.weight", qDim, h);
            linear(t, seed, p + "self_attn.k_proj.weight", kvDim, h);
            linear(t, seed, p + "self_attn.v_proj.weight", kvDim, h);
            linear(t, seed, p + "self_attn.o_proj.weight", h, qDim);
            norm(t, seed, p + "post_attention_layernorm.weight", h);
            String gate = p + "block_sparse_moe.gate.weight";
            t.put(gate, gaussian(seed, gate, 0.0, 2.0 / Math.sqrt(h), spec.experts(), h));
            for (int e = 0; e < spec.experts(); e++) {
                String ep = p + "block_sparse_moe.experts." + e + ".";
                linear(t, seed, ep + "w1.weight", spec.intermediate(), h);
                linear(t, seed, ep + "w2.weight", h, spec.intermediate());
                linear(t, seed, ep + "w3.weight", spec.intermediate(), h);
            }
        }
        norm(t, seed, "model.norm.weight", h);
        if (!spec.tieEmbeddings()) {
            linear(t, seed, "lm_head.weight", spec.vocab(), h);
        }
        return t;
    }

    private static void linear(Map<String, Tensor> t, long seed, String name, int out, int in) {
        t.put(name, gaussian(seed, name, 0.0, 1.0 / Math.sqrt(in), out, in));
    }

    private static void norm(Map<String, Tensor> t, long seed, String name, int size) {
        t.put(name, gaussian(seed, name, 1.0, 0.1, size));
    }

    private static Tensor gaussian(long seed, String name, double mean, double sigma, int... shape) {
        long n = 1;
        long[] longShape = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            n *= shape[i];
            longShape[i] = shape[i];
        }
        // java.util.Random's algorithm is specified in its javadoc, and String.hashCode too: stable across JDKs.
        Random random = new Random(seed * 0x9E3779B97F4A7C15L + name.hashCode());
        double[] values = new double[Math.toIntExact(n)];
        for (int i = 0; i < values.length; i++) {
            values[i] = mean + sigma * random.nextGaussian();
        }
        return new Tensor(longShape, values);
    }
}
