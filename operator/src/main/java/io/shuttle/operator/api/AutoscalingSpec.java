package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

/**
 * Autoscaling of each pool from its Prometheus metrics, and the attention/expert pod ratio band
 * that scaling must respect (docs/OPERATOR.md, "Autoscaling").
 *
 * @param attention the attention pool's autoscaler
 * @param experts   the expert pool's autoscaler
 * @param ratio     the band for attention pods / expert pods
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record AutoscalingSpec(
        @JsonPropertyDescription("Autoscaler of the attention pool (the leader: it scales on its own metric).")
        RoleAutoscalingSpec attention,
        @JsonPropertyDescription("Autoscaler of the expert pool (the follower: its bounds also follow the attention pods through the ratio band).")
        RoleAutoscalingSpec experts,
        @JsonPropertyDescription("Band for attention pods / expert pods that scaling keeps. Default: around the planner's balance "
                + "n_a = k1·E/(k3·K) and the plan's own ratio (plan.mode auto), or around the spec's ratio (manual).")
        RatioBandSpec ratio) {
}
