package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.ValidationRule;

import java.util.Map;

/** How the pools are sized: by hand, or by the planner under a latency target. */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
@ValidationRule(value = "self.mode != 'auto' || has(self.sloTbtMs)",
        message = "plan.mode auto needs sloTbtMs (the time-between-tokens target)", reason = "FieldValueRequired")
public record PlanSpec(
        @JsonPropertyDescription("manual (default): the roles' replicas and gpusPerPod as given; auto: the planner chooses them.")
        Mode mode,
        @Min(0.1) @Max(100000) @JsonPropertyDescription("Time-between-tokens target, ms (plan.mode auto).")
        Double sloTbtMs,
        @Min(1) @Max(1048576) @JsonPropertyDescription("Average sequence length (prompt plus output) the planner sizes the KV cache for (default: the planner's, 650).")
        Double avgSeqLen,
        @JsonPropertyDescription("GPU types added to or replacing the built-in catalog, by name.")
        Map<String, GpuSpec> gpuCatalog,
        @JsonPropertyDescription("Price per GPU-hour overrides of catalog entries, by GPU name.")
        Map<String, Double> prices) {

    public enum Mode {
        @JsonProperty("manual") MANUAL,
        @JsonProperty("auto") AUTO
    }

    public Mode modeOrDefault() {
        return mode == null ? Mode.MANUAL : mode;
    }
}
