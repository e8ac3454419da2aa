package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.ValidationRule;

/**
 * One pool's autoscaler: an autoscaling/v2 HorizontalPodAutoscaler on a Pods metric served by
 * prometheus-adapter ({@code hpa}), or a KEDA ScaledObject with a Prometheus trigger
 * ({@code keda}). Either way the target is an average per pod.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas",
        message = "minReplicas cannot exceed maxReplicas", reason = "FieldValueInvalid")
@ValidationRule(value = "!has(self.enabled) || !self.enabled || (has(self.metric) && has(self.target) && has(self.maxReplicas))",
        message = "enabled autoscaling needs metric, target and maxReplicas", reason = "FieldValueRequired")
@ValidationRule(value = "!has(self.enabled) || !self.enabled || !has(self.provider) || self.provider != 'keda' || has(self.serverAddress)",
        message = "provider keda needs serverAddress (the Prometheus URL KEDA queries)", reason = "FieldValueRequired")
@ValidationRule(value = "(!has(self.serverAddress) && !has(self.query)) || (has(self.provider) && self.provider == 'keda')",
        message = "serverAddress and query apply to provider keda only (provider hpa reads the metric through prometheus-adapter)",
        reason = "FieldValueForbidden")
public record RoleAutoscalingSpec(
        @JsonPropertyDescription("Turns the autoscaler on. Off (default): the role's replicas (or the planner's) are kept and "
                + "any autoscaler the operator made is deleted.")
        Boolean enabled,
        @Min(1) @Max(1024) @JsonPropertyDescription("Fewest pods (default 1).")
        Integer minReplicas,
        @Min(1) @Max(1024) @JsonPropertyDescription("Most pods (required when enabled).")
        Integer maxReplicas,
        @JsonPropertyDescription("hpa (default): autoscaling/v2 HPA on a Pods metric from prometheus-adapter; keda: a KEDA "
                + "ScaledObject with a Prometheus trigger.")
        Provider provider,
        @Pattern("^[a-zA-Z_:][a-zA-Z0-9_:]*$")
        @JsonPropertyDescription("Metric name, e.g. shuttle_requests_waiting or shuttle_kv_cache_usage_ratio (attention), "
                + "shuttle_expert_tokens_per_second (experts; the adapter's rate of shuttle_expert_tokens_total). For hpa it is "
                + "the adapter's Pods metric; for keda without query it is summed over the role's pods.")
        String metric,
        @Pattern("^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
        @JsonPropertyDescription("Target average per pod, a quantity such as 4, 0.8 or 500m.")
        String target,
        @Pattern("^https?://[^\\s]+$")
        @JsonPropertyDescription("keda only: the Prometheus server URL, e.g. http://prometheus-operated.monitoring.svc:9090.")
        String serverAddress,
        @JsonPropertyDescription("keda only: the PromQL query whose value divided by target gives the pod count. Default: the "
                + "metric summed over the role's pods (its rate for counters; shuttle_expert_tokens_per_second is "
                + "rate(shuttle_expert_tokens_total[1m])).")
        String query) {

    public enum Provider {
        @JsonProperty("hpa") HPA,
        @JsonProperty("keda") KEDA
    }

    /** Enabled explicitly (absent means off). */
    public boolean active() {
        return Boolean.TRUE.equals(enabled);
    }

    public Provider providerOrDefault() {
        return provider == null ? Provider.HPA : provider;
    }

    public int minReplicasOrDefault() {
        return minReplicas == null ? 1 : minReplicas;
    }
}
