package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;

/** A GPU type for the planner's catalog (adds a type or replaces a built-in one). */
public record GpuSpec(
        @Required @Min(1) @JsonPropertyDescription("Memory per GPU, GiB.") Double memoryGiB,
        @Required @Min(1) @JsonPropertyDescription("Memory bandwidth, GB/s.") Double bandwidthGBs,
        @Required @Min(1) @JsonPropertyDescription("Dense bf16 throughput, TFLOP/s.") Double bf16Tflops,
        @Required @Min(1) @JsonPropertyDescription("Network bandwidth per GPU, Gbit/s.") Double networkGbps,
        @Required @Min(0) @JsonPropertyDescription("Price per GPU-hour.") Double pricePerHour) {
}
