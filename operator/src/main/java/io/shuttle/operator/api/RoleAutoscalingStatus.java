package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One pool's autoscaler as the operator last set it, and what it reports.
 *
 * @param provider        hpa or keda
 * @param minReplicas     the autoscaler's lower bound in force (the user's, narrowed by the ratio band)
 * @param maxReplicas     the autoscaler's upper bound in force
 * @param currentReplicas pods now (the HPA's status, else the StatefulSet's)
 * @param desiredReplicas pods the autoscaler asks for (the HPA's status, else the StatefulSet's replicas)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RoleAutoscalingStatus(String provider, int minReplicas, int maxReplicas, Integer currentReplicas,
                                    Integer desiredReplicas) {
}
