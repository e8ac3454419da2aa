package io.shuttle.engine;

import io.shuttle.kernels.Tensor;

/**
 * The attention side's view of the expert pool for one round, a round being one
 * (step, layer, micro-batch): {@link #dispatch} hands the micro-batch's rows with their routing
 * to the experts and returns without waiting; {@link #awaitCombine} later collects the summed
 * expert output of the same rows. Between the two the attention side runs other micro-batches
 * (the ping-pong). Implementations: in-process (tests, the monolithic reference) and over M2N.
 */
public interface ExpertClient extends AutoCloseable {

    /**
     * Sends rows {@code x} ([rows, hidden]) with their top-k expert ids and routing weights
     * ([rows, topK] each); the combined expert output of the rows will be written to {@code out}
     * ([rows, hidden], same row order). None of the tensors may be touched by the caller until
     * the matching {@link #awaitCombine} returns.
     */
    void dispatch(long step, int layer, int microBatch, Tensor x, Tensor ids, Tensor weights, Tensor out);

    /**
     * Waits, within the client's timeout, until the round's combined output is in the
     * {@code out} tensor given to {@link #dispatch}.
     *
     * @throws ExpertUnavailableException when an expert holding some of the rows' experts did
     *         not answer in time or failed; the step cannot complete
     */
    void awaitCombine(long step, int layer, int microBatch);

    /**
     * Waits as {@link #awaitCombine}, and may add the round's combined output straight into
     * {@code residual} (the same rows' hidden states, the MoE residual {@code h += out}) instead
     * of writing {@code out}. Returns true if it did; false if the caller still has to add
     * {@code out}. A client adds directly only where that gives the same floats as writing
     * {@code out} and adding it: one pass over the rows instead of three (clear, scatter, add),
     * which is the hop back from the experts on the critical path of every round.
     */
    default boolean awaitCombineInto(long step, int layer, int microBatch, Tensor residual) {
        awaitCombine(step, layer, microBatch);
        return false;
    }

    /**
     * Whether, in the last round this client completed, other attention pods sent rows: the
     * deployment is busy and an idle attention pod should keep stepping at once rather than back
     * off (its empty messages gate everyone's rounds).
     */
    default boolean othersBusy() {
        return false;
    }

    /**
     * Whether the client needs a step boundary with no round in flight (to switch to another
     * expert pool): the engine then lets the pipeline drain instead of starting the next step's
     * micro-batches while the last ones are still at the experts.
     */
    default boolean wantsQuietStepBoundary() {
        return false;
    }

    /** The rounds dispatched and not awaited are given up (a failed step); their results will not be collected. */
    default void abandonRounds() {
    }

    @Override
    void close();
}
