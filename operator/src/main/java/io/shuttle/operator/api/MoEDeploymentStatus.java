package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.Condition;

import java.util.List;

/**
 * What the operator observed and decided.
 *
 * @param observedGeneration the spec generation this status describes
 * @param phase              Ready, Progressing, Degraded, Invalid or Pending (one word for kubectl)
 * @param conditions         Planned, Ready, Progressing, Degraded (see docs/OPERATOR.md for reasons)
 * @param attention          attention pool counts
 * @param experts            expert pool counts
 * @param plan               the plan in force (absent while Planned is False)
 * @param endpoint           the client endpoint, http://SERVICE.NAMESPACE.svc:PORT
 * @param attentionReady     "ready/desired", for the printer column
 * @param expertsReady       "ready/desired", for the printer column
 * @param planSummary        one line, for the printer column
 * @param autoscaling        the autoscalers in force, when a role autoscales
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record MoEDeploymentStatus(Long observedGeneration, String phase, List<Condition> conditions, RoleStatus attention,
                                  RoleStatus experts, PlanStatus plan, String endpoint, String attentionReady,
                                  String expertsReady, String planSummary, AutoscalingStatus autoscaling) {
}
