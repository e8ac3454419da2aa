package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.IntOrString;

/** The ping-pong pipeline and the attention pods' batch limits (docs/PLAN.md, {@code pipeline}). */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!has(self.microBatches) || (type(self.microBatches) == string ? self.microBatches == 'auto' : (self.microBatches >= 1 && self.microBatches <= 16))",
        message = "microBatches is 'auto' or a number in 1..16", reason = "FieldValueInvalid")
@ValidationRule(value = "!has(self.maxRunning) || !has(self.maxBatch) || self.maxRunning <= self.maxBatch",
        message = "maxRunning cannot exceed maxBatch", reason = "FieldValueInvalid")
public record PipelineSpec(
        @JsonPropertyDescription("Micro-batches per step: 'auto' (the planner's m, or 2 for manual plans) or 1..16. Ping-pong needs ≥ 2.")
        IntOrString microBatches,
        @Min(1) @Max(1048576)
        @JsonPropertyDescription("Token rows per step per attention pod (default: the planner's batch, or 512).")
        Integer maxBatch,
        @Min(1) @Max(65536) @JsonPropertyDescription("Sequences running at once per attention pod (default min(64, maxBatch)).")
        Integer maxRunning,
        @Min(1) @Max(1048576) @JsonPropertyDescription("Queued requests per attention pod beyond the running ones (default 256).")
        Integer maxWaiting,
        @Min(1) @Max(16777216) @JsonPropertyDescription("Longest sequence, prompt plus generated (default min(4096, the model's limit)).")
        Integer maxModelLen,
        @Min(1) @Max(16777216) @JsonPropertyDescription("KV cache blocks per attention pod (default 1024).")
        Integer kvBlocks,
        @Min(1) @Max(1024) @JsonPropertyDescription("Tokens per KV block (default 16).")
        Integer kvBlockSize,
        @Min(10) @Max(600000) @JsonPropertyDescription("How long a round waits for a missing peer before failing, ms (default 5000).")
        Integer roundTimeoutMillis,
        @Min(0) @Max(3600)
        @JsonPropertyDescription("Seconds a stopping pod (scale-in, rollout) keeps finishing its running requests after it stops "
                + "admitting new ones (env SHUTTLE_DRAIN_SECONDS, default 30); the pod's grace period is this plus 10.")
        Integer drainSeconds) {

    public static final int DEFAULT_DRAIN_SECONDS = 30;

    public int drainSecondsOrDefault() {
        return drainSeconds == null ? DEFAULT_DRAIN_SECONDS : drainSeconds;
    }
}
