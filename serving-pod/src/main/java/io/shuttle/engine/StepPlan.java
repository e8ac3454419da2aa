package io.shuttle.engine;

import java.util.List;

/**
 * What the scheduler decided for one lane (micro-batch) of one step: the rows, and which
 * sequence each chunk belongs to (so results can be applied).
 *
 * @param step   step number, increasing; every lane of a step has the same one
 * @param lane   the micro-batch: a sequence stays in its lane while it runs
 * @param batch  the rows of this lane in this step
 * @param chunks one entry per scheduled sequence, in row order
 */
public record StepPlan(long step, int lane, StepBatch batch, List<Chunk> chunks) {

    /**
     * A sequence's share of the step.
     *
     * @param sequence   the sequence
     * @param tokens     rows it got
     * @param logitsRow  index into the step's logits rows, or -1 when this chunk does not reach the end of the known tokens
     */
    public record Chunk(Sequence sequence, int tokens, int logitsRow) {
    }

    public boolean isEmpty() {
        return batch.numTokens() == 0;
    }
}
