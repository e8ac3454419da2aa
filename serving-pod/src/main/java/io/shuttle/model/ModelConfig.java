package io.shuttle.model;

/**
 * Hyperparameters of a Mixtral-style MoE transformer, as read from a Hugging Face
 * {@code config.json}. Immutable; runtime state (KV cache, placement, buffers) lives elsewhere.
 *
 * @param modelType             {@code model_type} ("mixtral")
 * @param vocabSize             {@code vocab_size}
 * @param hiddenSize            {@code hidden_size}
 * @param intermediateSize      {@code intermediate_size}, the width of each expert's SwiGLU
 * @param numLayers             {@code num_hidden_layers}
 * @param numHeads              {@code num_attention_heads}
 * @param numKvHeads            {@code num_key_value_heads} (equal to numHeads for MHA)
 * @param headDim               {@code head_dim}, or hiddenSize / numHeads when absent
 * @param numExperts            {@code num_local_experts}
 * @param topK                  {@code num_experts_per_tok}
 * @param rmsNormEps            {@code rms_norm_eps}
 * @param ropeTheta             {@code rope_theta}
 * @param maxPositionEmbeddings {@code max_position_embeddings}
 * @param tieWordEmbeddings     {@code tie_word_embeddings}: lm_head reuses embed_tokens
 * @param bosTokenId            {@code bos_token_id}
 * @param eosTokenId            {@code eos_token_id}
 */
public record ModelConfig(
        String modelType,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        int numExperts,
        int topK,
        float rmsNormEps,
        float ropeTheta,
        int maxPositionEmbeddings,
        boolean tieWordEmbeddings,
        int bosTokenId,
        int eosTokenId) {

    public ModelConfig {
        require(vocabSize > 0, "vocab_size must be positive, got " + vocabSize);
        require(hiddenSize > 0, "hidden_size must be positive, got " + hiddenSize);
        require(intermediateSize > 0, "intermediate_size must be positive, got " + intermediateSize);
        require(numLayers > 0, "num_hidden_layers must be positive, got " + numLayers);
        require(numHeads > 0, "num_attention_heads must be positive, got " + numHeads);
        require(numKvHeads > 0 && numHeads % numKvHeads == 0,
                "num_key_value_heads (" + numKvHeads + ") must divide num_attention_heads (" + numHeads + ")");
        require(headDim > 0 && headDim % 2 == 0, "head_dim must be positive and even, got " + headDim);
        require(numExperts > 0, "num_local_experts must be positive, got " + numExperts);
        require(topK > 0 && topK <= numExperts,
                "num_experts_per_tok (" + topK + ") must be in 1.." + numExperts);
        require(rmsNormEps > 0, "rms_norm_eps must be positive, got " + rmsNormEps);
        require(ropeTheta > 0, "rope_theta must be positive, got " + ropeTheta);
        require(maxPositionEmbeddings > 0, "max_position_embeddings must be positive, got " + maxPositionEmbeddings);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    /** Width of the query projection output: numHeads × headDim. */
    public int qDim() {
        return numHeads * headDim;
    }

    /** Width of the key/value projection outputs: numKvHeads × headDim. */
    public int kvDim() {
        return numKvHeads * headDim;
    }
}
