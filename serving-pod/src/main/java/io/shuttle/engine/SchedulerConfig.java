package io.shuttle.engine;

/**
 * Limits of the continuous-batching scheduler.
 *
 * @param maxBatchTokens token rows per step (prefill chunks plus decode tokens)
 * @param maxRunning     sequences running at once (each may want a logits row per step)
 * @param maxWaiting     requests queued beyond the running ones; more are refused (backpressure)
 * @param microBatches   micro-batches each step is split into (1 = no pipelining)
 * @param maxModelLen    longest sequence, prompt plus generated
 */
public record SchedulerConfig(int maxBatchTokens, int maxRunning, int maxWaiting, int microBatches, int maxModelLen) {
    public SchedulerConfig {
        if (maxBatchTokens < 1 || maxRunning < 1 || maxWaiting < 0 || microBatches < 1 || maxModelLen < 1) {
            throw new IllegalArgumentException("scheduler limits must be positive: " + this);
        }
        if (maxRunning > maxBatchTokens) {
            throw new IllegalArgumentException("maxRunning (" + maxRunning + ") cannot exceed maxBatchTokens ("
                    + maxBatchTokens + "): every running sequence needs a row");
        }
    }
}
