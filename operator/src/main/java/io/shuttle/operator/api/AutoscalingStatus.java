package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * The autoscalers in force (absent when no role autoscales).
 *
 * @param attention the attention pool's autoscaler, if enabled
 * @param experts   the expert pool's autoscaler, if enabled
 * @param ratio     the attention/expert band in force, "MIN-MAX"
 * @param message   why a bound could not be met (the band against minReplicas/maxReplicas), if so
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record AutoscalingStatus(RoleAutoscalingStatus attention, RoleAutoscalingStatus experts, String ratio, String message) {
}
