package io.shuttle.model;

/**
 * The Hugging Face Mixtral checkpoint names, in one place. Writer, loader and stages use these
 * and never concatenate tensor names themselves. Linear weights are {@code [out, in]}.
 */
public final class MixtralNames {
    private MixtralNames() {
    }

    /** {@code [vocab, hidden]} */
    public static String embedTokens() {
        return "model.embed_tokens.weight";
    }

    /** {@code [hidden]} */
    public static String finalNorm() {
        return "model.norm.weight";
    }

    /** {@code [vocab, hidden]}; absent when {@code tie_word_embeddings} is true. */
    public static String lmHead() {
        return "lm_head.weight";
    }

    /** {@code [hidden]} */
    public static String inputNorm(int layer) {
        return layer(layer) + "input_layernorm.weight";
    }

    /** {@code [hidden]} */
    public static String postAttentionNorm(int layer) {
        return layer(layer) + "post_attention_layernorm.weight";
    }

    /** {@code [numHeads * headDim, hidden]} */
    public static String qProj(int layer) {
        return layer(layer) + "self_attn.q_proj.weight";
    }

    /** {@code [numKvHeads * headDim, hidden]} */
    public static String kProj(int layer) {
        return layer(layer) + "self_attn.k_proj.weight";
    }

    /** {@code [numKvHeads * headDim, hidden]} */
    public static String vProj(int layer) {
        return layer(layer) + "self_attn.v_proj.weight";
    }

    /** {@code [hidden, numHeads * headDim]} */
    public static String oProj(int layer) {
        return layer(layer) + "self_attn.o_proj.weight";
    }

    /** Router, {@code [numExperts, hidden]} */
    public static String router(int layer) {
        return layer(layer) + "block_sparse_moe.gate.weight";
    }

    /** Expert gate projection w1, {@code [intermediate, hidden]} */
    public static String expertW1(int layer, int expert) {
        return expert(layer, expert) + "w1.weight";
    }

    /** Expert down projection w2, {@code [hidden, intermediate]} */
    public static String expertW2(int layer, int expert) {
        return expert(layer, expert) + "w2.weight";
    }

    /** Expert up projection w3, {@code [intermediate, hidden]} */
    public static String expertW3(int layer, int expert) {
        return expert(layer, expert) + "w3.weight";
    }

    private static String layer(int layer) {
        return "model.layers." + layer + ".";
    }

    private static String expert(int layer, int expert) {
        return layer(layer) + "block_sparse_moe.experts." + expert + ".";
    }
}
