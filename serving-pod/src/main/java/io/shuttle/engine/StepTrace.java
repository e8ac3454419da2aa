package io.shuttle.engine;

/**
 * Timings of the pipeline's phases, for a Chrome/Perfetto trace. The attention thread calls
 * {@link #now()} before a phase and the phase method after it. {@link #NONE} costs nothing.
 */
public interface StepTrace {

    StepTrace NONE = new StepTrace() {
        @Override
        public long now() {
            return 0;
        }

        @Override
        public void attention(long step, int layer, int microBatch, long startNanos) {
        }

        @Override
        public void wait(long step, int layer, int microBatch, long startNanos) {
        }

        @Override
        public void dispatch(long step, int layer, int microBatch, long startNanos) {
        }
    };

    /**
     * A micro-batch (lane) starts a step with {@code tokens} tokens (0: an empty lockstep round
     * that keeps the experts' rounds going). Lanes start their steps at different times: lane 0's
     * step s+1 may start before lane 1's step s ends.
     */
    default void step(long step, int microBatch, int tokens) {
    }

    /** A timestamp in nanoseconds (System.nanoTime), or 0 when not tracing. */
    long now();

    /** Attention compute of one micro-batch in one layer, from {@code startNanos} to now. */
    void attention(long step, int layer, int microBatch, long startNanos);

    /** Waiting for a micro-batch's combined expert output, from {@code startNanos} to now. */
    void wait(long step, int layer, int microBatch, long startNanos);

    /** Final norm and lm_head of one micro-batch's logit rows after its last layer, from {@code startNanos} to now. */
    default void logits(long step, int microBatch, long startNanos) {
    }

    /** The work of a micro-batch's step boundary that is not a round: its span names in a trace. */
    enum Boundary {
        /** Sampling its logit rows and applying the tokens to its sequences. */
        SAMPLE("sample"),
        /** Scheduling its next step (admissions, chunks, KV blocks). */
        SCHEDULE("schedule"),
        /** Uploading its step inputs (ids, positions, block tables) and its embeddings. */
        INPUTS("inputs");

        private final String label;

        Boundary(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }
    }

    /** One phase of a micro-batch's step boundary, from {@code startNanos} to now. */
    default void boundary(Boundary phase, long step, int microBatch, long startNanos) {
    }

    /** Handing a micro-batch to the experts (routing, packing, posting the sends), from {@code startNanos} to now. */
    void dispatch(long step, int layer, int microBatch, long startNanos);
}
