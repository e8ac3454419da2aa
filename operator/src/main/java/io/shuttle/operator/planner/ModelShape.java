package io.shuttle.operator.planner;

import java.nio.file.Path;

/**
 * The model facts the performance model needs (from a Hugging Face {@code config.json}).
 *
 * <p>Parameter counts follow the Mixtral layout: per layer an attention block (Q, K, V, O
 * projections, the router gate and two RMSNorms) held by attention pods, and {@code experts}
 * SwiGLU experts of three {@code hidden × intermediate} matrices each, held by expert pods. The
 * embedding and the output head are untied and live on the attention side, which samples.
 *
 * @param name          a label for output (the checkpoint's name or folder)
 * @param layers        MoE layers, {@code L}
 * @param hidden        hidden size, {@code h}
 * @param intermediate  one expert's intermediate size, {@code h'}
 * @param experts       routed experts per layer, {@code E}
 * @param topK          experts per token, {@code K}
 * @param heads         query heads
 * @param kvHeads       key/value heads (GQA group {@code g = heads / kvHeads})
 * @param headDim       width of one head
 * @param vocab         vocabulary size
 * @param bytesPerParam bytes per weight, activation and KV element (2 for bf16, as in the paper)
 */
public record ModelShape(String name, int layers, int hidden, int intermediate, int experts, int topK,
                         int heads, int kvHeads, int headDim, int vocab, int bytesPerParam) {

    public ModelShape {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("model name must not be blank");
        }
        requirePositive("layers", layers);
        requirePositive("hidden", hidden);
        requirePositive("intermediate", intermediate);
        requirePositive("heads", heads);
        requirePositive("kvHeads", kvHeads);
        requirePositive("headDim", headDim);
        requirePositive("vocab", vocab);
        requirePositive("bytesPerParam", bytesPerParam);
        if (experts < 2) {
            throw new IllegalArgumentException(name + " has " + experts
                    + " experts per layer; the planner sizes Mixture-of-Experts models (2 or more experts)");
        }
        if (topK < 1 || topK > experts) {
            throw new IllegalArgumentException(name + ": experts per token (" + topK + ") must be between 1 and the "
                    + "number of experts (" + experts + ")");
        }
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException(name + ": " + heads + " query heads are not a multiple of "
                    + kvHeads + " key/value heads");
        }
    }

    /** Reads a {@code config.json}, or {@code DIR/config.json} when given a folder; errors name the file and field. */
    public static ModelShape fromConfigJson(Path configJsonOrDir) {
        return ModelConfigParser.read(configJsonOrDir);
    }

    /** Parses the text of a {@code config.json}. */
    public static ModelShape fromConfigJson(String json) {
        return ModelConfigParser.parse("config.json text", json, "model");
    }

    /** mistralai/Mixtral-8x22B-v0.1 (141B parameters), the paper's Table 4 model. */
    public static ModelShape mixtral8x22b() {
        return new ModelShape("Mixtral-8x22B", 56, 6144, 16384, 8, 2, 48, 8, 128, 32000, 2);
    }

    /** mistralai/Mixtral-8x7B-v0.1 (47B parameters). */
    public static ModelShape mixtral8x7b() {
        return new ModelShape("Mixtral-8x7B", 32, 4096, 14336, 8, 2, 32, 8, 128, 32000, 2);
    }

    /** Parameters of one layer held by every attention pod: Q, K, V, O, the router gate and two norms. */
    public long attentionParamsPerLayer() {
        long q = (long) hidden * heads * headDim;
        long kv = 2L * hidden * kvHeads * headDim;
        long o = (long) heads * headDim * hidden;
        long gate = (long) hidden * experts;
        return q + kv + o + gate + 2L * hidden;
    }

    /** Embedding, output head (untied) and final norm, on the attention side. */
    public long headParams() {
        return 2L * vocab * hidden + hidden;
    }

    /** One expert of one layer: w1 and w3 ({@code h × h'}) and w2 ({@code h' × h}). */
    public long expertParamsPerLayer() {
        return 3L * hidden * intermediate;
    }

    /** The paper's {@code P_a} in bytes: every layer's attention block plus embedding and head. */
    public double attentionWeightBytes() {
        return (double) bytesPerParam * ((double) layers * attentionParamsPerLayer() + headParams());
    }

    /** The paper's {@code P_e} in bytes: one expert across all layers. */
    public double expertWeightBytes() {
        return (double) bytesPerParam * layers * expertParamsPerLayer();
    }

    /** K and V of one token in one layer, all KV heads ({@code 4h/g} bytes in bf16, Eq. 8). */
    public long kvBytesPerTokenPerLayer() {
        return 2L * kvHeads * headDim * bytesPerParam;
    }

    /** All parameters, for display. */
    public double totalParams() {
        return (double) layers * (attentionParamsPerLayer() + (double) experts * expertParamsPerLayer()) + headParams();
    }

    private static void requirePositive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException("model " + field + " must be positive, got " + value);
        }
    }
}
