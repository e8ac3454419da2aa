package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import io.shuttle.model.ModelConfig;

/**
 * The attention side's activations for up to {@code maxTokens} rows, allocated once (per batch
 * shape, as llama3.java's {@code State}) and reused every step; a step uses row views of them.
 */
public final class ActivationBuffers implements AutoCloseable {
    private final Backend backend;
    final int maxTokens;
    final int maxLogitRows;
    /** [T, hidden] the residual stream. */
    final Tensor hidden;
    /** [T, hidden] normalised input of attention, then of the experts (what is dispatched). */
    final Tensor normed;
    final Tensor q;
    final Tensor k;
    final Tensor v;
    final Tensor attn;
    /** [T, hidden] output projections before the residual add. */
    final Tensor proj;
    final Tensor routerLogits;
    /** [T, topK] I32, the chosen experts of each row. */
    final Tensor topkIds;
    /** [T, topK] F32, their renormalised routing weights. */
    final Tensor topkWeights;
    /** [L, hidden] the rows whose logits are wanted, after the final norm. */
    final Tensor lastHidden;
    /** [L, vocab] */
    final Tensor logits;

    public ActivationBuffers(Backend backend, ModelConfig c, int maxTokens, int maxLogitRows) {
        this.backend = backend;
        this.maxTokens = maxTokens;
        this.maxLogitRows = maxLogitRows;
        hidden = backend.allocate(DType.F32, maxTokens, c.hiddenSize());
        normed = backend.allocate(DType.F32, maxTokens, c.hiddenSize());
        q = backend.allocate(DType.F32, maxTokens, c.qDim());
        k = backend.allocate(DType.F32, maxTokens, c.kvDim());
        v = backend.allocate(DType.F32, maxTokens, c.kvDim());
        attn = backend.allocate(DType.F32, maxTokens, c.qDim());
        proj = backend.allocate(DType.F32, maxTokens, c.hiddenSize());
        routerLogits = backend.allocate(DType.F32, maxTokens, c.numExperts());
        topkIds = backend.allocate(DType.I32, maxTokens, c.topK());
        topkWeights = backend.allocate(DType.F32, maxTokens, c.topK());
        lastHidden = backend.allocate(DType.F32, maxLogitRows, c.hiddenSize());
        logits = backend.allocate(DType.F32, maxLogitRows, c.vocabSize());
    }

    /** Rows {@code [from, to)} of the experts' input (post-attention norm). */
    public Tensor expertInput(int from, int to) {
        return normed.rows(from, to);
    }

    public Tensor topkIds(int from, int to) {
        return topkIds.rows(from, to);
    }

    public Tensor topkWeights(int from, int to) {
        return topkWeights.rows(from, to);
    }

    /** The first {@code rows} rows of the logits computed by the last {@link AttentionStage#logits} call. */
    public Tensor logits(int rows) {
        return logits.rows(0, rows);
    }

    @Override
    public void close() {
        for (Tensor t : new Tensor[] {hidden, normed, q, k, v, attn, proj, routerLogits, topkIds, topkWeights,
                lastHidden, logits}) {
            backend.release(t);
        }
    }
}
