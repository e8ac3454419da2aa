package io.shuttle.engine;

import java.lang.foreign.MemorySegment;

/** Runs the forward pass of one scheduled step; the monolithic runner or the attention side of the pipeline. */
public interface StepRunner extends AutoCloseable {

    /**
     * Runs {@code plan} and writes the logits of its logits rows ({@code [rows, vocab]} F32) to
     * {@code hostLogits}; returns the number of rows.
     */
    int forward(StepPlan plan, MemorySegment hostLogits);

    @Override
    void close();
}
