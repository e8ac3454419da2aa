package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;

/**
 * The plan in force.
 *
 * @param source            planner (plan.mode auto) or spec (manual)
 * @param attention         attention pool: GPU, tp, pods
 * @param experts           expert pool: GPU, tp, pods
 * @param microBatches      m
 * @param batch             token rows per step per attention pod
 * @param tbtMs             predicted time between tokens (planner only)
 * @param tokensPerS        predicted throughput (planner only)
 * @param costPerHour       predicted cost (planner only)
 * @param expertsPerPod     number of experts held by each expert pod, by ordinal
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PlanStatus(String source, RolePlanStatus attention, RolePlanStatus experts, int microBatches, int batch,
                         Double tbtMs, Double tokensPerS, Double costPerHour, List<Integer> expertsPerPod) {

    /** @param gpu GPU type, or null for CPU/unspecified; @param tp GPUs per pod; @param pods pods */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record RolePlanStatus(String gpu, int tp, int pods) {
    }
}
