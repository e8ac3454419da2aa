package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;

/**
 * The desired deployment. Cross-field rules are CEL rules, so the API server rejects an invalid
 * resource before the operator sees it; what only the planner can judge (capacity, SLO) comes
 * back as a {@code Planned=False} condition.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!has(self.placement) || !has(self.placement.experts) || size(self.placement.experts) == (has(self.experts.replicas) ? self.experts.replicas : 1)",
        message = "placement.experts needs one entry per expert pod (experts.replicas)", reason = "FieldValueInvalid")
@ValidationRule(value = "!(has(self.plan) && has(self.plan.mode) && self.plan.mode == 'auto') || !has(self.placement) || !has(self.placement.experts)",
        message = "an explicit placement.experts needs plan.mode manual (the planner chooses the expert pod count)",
        reason = "FieldValueForbidden")
@ValidationRule(value = "(has(self.plan) && has(self.plan.mode) && self.plan.mode == 'auto') || !has(self.attention.gpuType) || (has(self.attention.gpusPerPod) && self.attention.gpusPerPod > 0)",
        message = "attention.gpuType needs attention.gpusPerPod ≥ 1 in a manual plan", reason = "FieldValueInvalid")
@ValidationRule(value = "(has(self.plan) && has(self.plan.mode) && self.plan.mode == 'auto') || !has(self.experts.gpuType) || (has(self.experts.gpusPerPod) && self.experts.gpusPerPod > 0)",
        message = "experts.gpuType needs experts.gpusPerPod ≥ 1 in a manual plan", reason = "FieldValueInvalid")
@ValidationRule(value = "!has(self.api) || !has(self.api.port) || !has(self.m2n) || ((!has(self.m2n.attentionPort) || self.m2n.attentionPort != self.api.port) && (!has(self.m2n.expertPort) || self.m2n.expertPort != self.api.port))",
        message = "api.port must differ from the M2N ports", reason = "FieldValueInvalid")
@ValidationRule(value = "!has(self.autoscaling) || !has(self.autoscaling.experts) || !has(self.autoscaling.experts.enabled) || !self.autoscaling.experts.enabled || !has(self.placement) || !has(self.placement.experts)",
        message = "an explicit placement.experts fixes the expert pod count; it cannot be combined with autoscaling.experts",
        reason = "FieldValueForbidden")
public record MoEDeploymentSpec(
        @Required @JsonPropertyDescription("The model to serve.") ModelSpec model,
        @Required @Pattern("^[^\\s]+$") @JsonPropertyDescription("Serving-pod image (runs `shuttle serve`), used by both roles.")
        String image,
        @Required @JsonPropertyDescription("The attention pool: pods holding attention, KV cache, router and the HTTP API.")
        RoleSpec attention,
        @Required @JsonPropertyDescription("The expert pool: pods holding the experts' FFN weights.") RoleSpec experts,
        @JsonPropertyDescription("Micro-batching and batch limits.") PipelineSpec pipeline,
        @JsonPropertyDescription("Manual sizing or the planner.") PlanSpec plan,
        @JsonPropertyDescription("Expert placement over the expert pods.") PlacementSpec placement,
        @JsonPropertyDescription("Client API.") ApiSpec api,
        @JsonPropertyDescription("M2N transport between the pools.") M2nSpec m2n,
        @JsonPropertyDescription("Autoscaling of each pool from Prometheus metrics (HPA or KEDA) within an attention/expert ratio band.")
        AutoscalingSpec autoscaling) {
}
