package io.shuttle.engine;

import io.shuttle.kernels.Tensor;

/**
 * An {@link ExpertClient} that runs the expert stage right away on the calling thread: the
 * monolithic engine. Dispatch computes, awaitCombine has nothing left to wait for.
 */
public final class InlineExpertClient implements ExpertClient {
    private final ExpertStage experts;

    public InlineExpertClient(ExpertStage experts) {
        this.experts = experts;
    }

    @Override
    public void dispatch(long step, int layer, int microBatch, Tensor x, Tensor ids, Tensor weights, Tensor out) {
        experts.forward(layer, x, ids, weights, out);
    }

    @Override
    public void awaitCombine(long step, int layer, int microBatch) {
        // Already computed in dispatch.
    }

    @Override
    public void close() {
        // The expert stage belongs to the caller.
    }
}
