package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.Toleration;

import java.util.List;
import java.util.Map;

/**
 * One role's pool (attention or experts): its size, GPUs and node pool. With {@code plan.mode:
 * auto} the planner chooses replicas and gpusPerPod, and gpuType (if given) constrains it.
 */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
public record RoleSpec(
        @Min(1) @Max(1024)
        @JsonPropertyDescription("Pods in this role (manual plans; the planner decides under plan.mode auto). Default 1.")
        Integer replicas,
        @Min(0) @Max(16)
        @JsonPropertyDescription("GPUs per pod, the role's tensor parallelism (nvidia.com/gpu). 0 runs on CPU. Default 0.")
        Integer gpusPerPod,
        @Pattern("^[A-Za-z0-9][-_A-Za-z0-9]*$")
        @JsonPropertyDescription("GPU type from the planner's catalog (H20, L40S, H100, ...). Pods are pinned to nodes labelled "
                + "shuttle.io/gpu-type=<type>.")
        String gpuType,
        @JsonPropertyDescription("Node selector of this role's node pool (merged with shuttle.io/gpu-type).")
        Map<String, String> nodeSelector,
        @JsonPropertyDescription("Tolerations for this role's node pool.")
        List<Toleration> tolerations,
        @JsonPropertyDescription("Affinity of this role's pods.")
        Affinity affinity,
        @JsonPropertyDescription("CPU/memory requests and limits (nvidia.com/gpu is set from gpusPerPod).")
        ResourceRequirements resources,
        @JsonPropertyDescription("Extra environment variables of the serving container.")
        List<EnvVar> env) {

    public int replicasOrDefault() {
        return replicas == null ? 1 : replicas;
    }

    public int gpusOrDefault() {
        return gpusPerPod == null ? 0 : gpusPerPod;
    }
}
