package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.Tensor;
import io.shuttle.model.ModelConfig;

/**
 * The attention half of every Mixtral layer, as run by an attention pod, plus the model's ends
 * (embedding, final norm, lm_head). For one layer and a range of rows:
 * <pre>
 *   x      = input_layernorm(h)
 *   q,k,v  = x·Wqᵀ, x·Wkᵀ, x·Wvᵀ;  rope(q), rope(k);  cache ← k, v
 *   h     += o_proj(attention(q, cache))
 *   y      = post_attention_layernorm(h)                → dispatched to the experts
 *   ids, w = top-k(softmax(y·Wrᵀ)), renormalised        → which experts, with what weight
 * </pre>
 * and, when the experts' combined result comes back, {@code h += Σ_k w_k · expert_k(y)}.
 * Rows are independent except through the KV cache, so any row range (a micro-batch) can run
 * while another range is at the experts.
 */
public final class AttentionStage {
    private final ModelConfig config;
    private final AttentionWeights weights;
    private final KvCache cache;
    private final Backend backend;

    public AttentionStage(ModelConfig config, AttentionWeights weights, KvCache cache, Backend backend) {
        this.config = config;
        this.weights = weights;
        this.cache = cache;
        this.backend = backend;
    }

    public ModelConfig config() {
        return config;
    }

    public AttentionWeights weights() {
        return weights;
    }

    /** hidden[0, n) = embed_tokens[tokens]. */
    public void embed(BatchInputs in, ActivationBuffers buf) {
        backend.embedding(weights.embedTokens(), in.tokens(), buf.hidden.rows(0, in.numTokens()));
    }

    /** Runs layer {@code layer}'s attention half on rows [from, to), ending with the routing decision. */
    public void attention(int layer, BatchInputs in, ActivationBuffers buf, int from, int to) {
        AttentionWeights.Layer w = weights.layers().get(layer);
        Tensor h = buf.hidden.rows(from, to);
        Tensor x = buf.normed.rows(from, to);
        Tensor q = buf.q.rows(from, to);
        Tensor k = buf.k.rows(from, to);
        Tensor v = buf.v.rows(from, to);
        Tensor attn = buf.attn.rows(from, to);
        Tensor proj = buf.proj.rows(from, to);
        Tensor positions = in.positions(from, to);

        // Pre-attention RMSNorm.
        backend.rmsNorm(h, w.inputNorm(), config.rmsNormEps(), x);
        // QKV projections (one call: a parallel backend runs them as one job), rotary embedding on q and k, then this chunk's keys/values into the cache.
        backend.matmulMany(x, new Tensor[] {w.qProj(), w.kProj(), w.vProj()}, new Tensor[] {q, k, v});
        backend.rope(q, positions, config.numHeads(), config.headDim(), config.ropeTheta());
        backend.rope(k, positions, config.numKvHeads(), config.headDim(), config.ropeTheta());
        backend.writeKv(k, v, cache.keys(layer), cache.values(layer), in.slots(from, to));
        // Causal paged attention (GQA), output projection, residual.
        backend.pagedAttention(q, cache.keys(layer), cache.values(layer), in.attentionMeta(from, to),
                config.numHeads(), config.numKvHeads(), config.headDim(), attn);
        backend.matmul(attn, w.oProj(), proj);
        backend.add(h, proj, h);
        // Post-attention RMSNorm: the experts' input. Router: softmax over all experts, top-k, renormalise.
        backend.rmsNorm(h, w.postAttentionNorm(), config.rmsNormEps(), x);
        Tensor routerLogits = buf.routerLogits.rows(from, to);
        backend.matmul(x, w.router(), routerLogits);
        backend.routerTopK(routerLogits, config.topK(), buf.topkIds.rows(from, to), buf.topkWeights.rows(from, to));
    }

    /** The MoE residual: hidden[from, to) += combined expert output (rows aligned with the range). */
    public void addExpertOutput(ActivationBuffers buf, Tensor expertOut, int from, int to) {
        Tensor h = buf.hidden.rows(from, to);
        backend.add(h, expertOut, h);
    }

    /** Final norm and lm_head for the batch's logit rows; the result is {@code buf.logits(in.numLogitRows())}. */
    public Tensor logits(BatchInputs in, ActivationBuffers buf) {
        int rows = in.numLogitRows();
        logits(in, buf, 0, rows);
        return buf.logits(rows);
    }

    /**
     * Final norm and lm_head for logit rows {@code lo..hi} only, into the same rows of
     * {@code buf.logits(in.numLogitRows())}: the pipeline computes a micro-batch's logits as soon
     * as its last layer is back, while the next micro-batch is still at the experts.
     */
    public void logits(BatchInputs in, ActivationBuffers buf, int lo, int hi) {
        int rows = in.numLogitRows();
        if (rows > buf.maxLogitRows) {
            throw new IllegalArgumentException(rows + " sequences want logits in one step; at most "
                    + buf.maxLogitRows + " are configured");
        }
        if (lo < 0 || hi > rows || lo > hi) {
            throw new IllegalArgumentException("logit rows " + lo + ".." + hi + " outside 0.." + rows);
        }
        if (hi == lo) {
            return;
        }
        Tensor last = buf.lastHidden.rows(lo, hi);
        backend.gatherRows(buf.hidden.rows(0, in.numTokens()), in.logitRows().rows(lo, hi), last);
        backend.rmsNorm(last, weights.finalNorm(), config.rmsNormEps(), last);
        backend.matmul(last, weights.lmHead(), buf.logits(rows).rows(lo, hi));
    }
}
