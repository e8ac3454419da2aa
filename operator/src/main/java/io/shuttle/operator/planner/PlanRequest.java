package io.shuttle.operator.planner;

import java.util.Optional;
import java.util.OptionalInt;

/**
 * What to plan for.
 *
 * @param model         the model
 * @param attentionGpu  pin the attention GPU type, or empty to search every catalog type
 * @param expertGpu     pin the expert GPU type, or empty to search every catalog type
 * @param sloTbtMs      time-between-tokens target (the paper's evaluation uses 150 ms)
 * @param avgSeqLen     average context length during decode, {@code s}: sizes KV reads and KV memory
 * @param catalog       GPU types and prices
 * @param microBatches  pin {@code m}, or empty to let the search choose
 */
public record PlanRequest(ModelShape model, Optional<String> attentionGpu, Optional<String> expertGpu,
                          double sloTbtMs, double avgSeqLen, GpuCatalog catalog, OptionalInt microBatches) {

    /**
     * Average context during decode of the paper's production trace: median input 571 plus half
     * the median output of 159 tokens.
     */
    public static final double DEFAULT_AVG_SEQ_LEN = 650;

    public PlanRequest {
        if (model == null || catalog == null || attentionGpu == null || expertGpu == null || microBatches == null) {
            throw new IllegalArgumentException("model, catalog and the optional fields must not be null");
        }
        if (!(sloTbtMs > 0) || Double.isInfinite(sloTbtMs)) {
            throw new IllegalArgumentException("the TBT SLO must be a positive number of milliseconds, got " + sloTbtMs);
        }
        if (!(avgSeqLen >= 1) || Double.isInfinite(avgSeqLen)) {
            throw new IllegalArgumentException("the average sequence length must be at least 1 token, got " + avgSeqLen);
        }
        if (microBatches.isPresent() && microBatches.getAsInt() < 1) {
            throw new IllegalArgumentException("micro-batches must be at least 1, got " + microBatches.getAsInt());
        }
    }

    /** Every catalog type for both roles, {@code m} searched, the default sequence length. */
    public static PlanRequest of(ModelShape model, double sloTbtMs, GpuCatalog catalog) {
        return new PlanRequest(model, Optional.empty(), Optional.empty(), sloTbtMs, DEFAULT_AVG_SEQ_LEN, catalog,
                OptionalInt.empty());
    }

    public PlanRequest withGpus(String attention, String experts) {
        return new PlanRequest(model, Optional.ofNullable(attention), Optional.ofNullable(experts), sloTbtMs,
                avgSeqLen, catalog, microBatches);
    }
}
