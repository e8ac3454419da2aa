package io.shuttle.engine;

import java.util.List;

/**
 * What the scheduler decided for one step: the batch, how it is cut into micro-batches, and
 * which sequence each chunk belongs to (so results can be applied).
 *
 * @param step         step number, increasing
 * @param batch        the rows of this step
 * @param chunks       one entry per scheduled sequence, in row order
 * @param microBatches row boundaries: micro-batch i is rows [bounds[i], bounds[i+1]); length m+1
 */
public record StepPlan(long step, StepBatch batch, List<Chunk> chunks, int[] microBatches) {

    /**
     * A sequence's share of the step.
     *
     * @param sequence   the sequence
     * @param tokens     rows it got
     * @param logitsRow  index into the step's logits rows, or -1 when this chunk does not reach the end of the known tokens
     */
    public record Chunk(Sequence sequence, int tokens, int logitsRow) {
    }

    public int numMicroBatches() {
        return microBatches.length - 1;
    }

    public boolean isEmpty() {
        return batch.numTokens() == 0;
    }
}
