package io.shuttle.operator.desired;

import io.shuttle.operator.planner.DeploymentPlan;

import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * The resolved deployment: what the spec (and the planner, for plan.mode auto) decided.
 *
 * @param model     the model facts
 * @param attention the attention pool layout
 * @param experts   the expert pool layout
 * @param pipeline  pipeline limits written to the plan file
 * @param placement expert ids per expert pod
 * @param planned   the planner's choice, when plan.mode is auto
 * @param balanceAttentionPods the paper's BALANCE {@code n_a = k1·E/(k3·K)} for the planner's
 *                  choice ({@code PlanEstimate.balanceAttentionPods}), when the planner gave one
 */
public record Topology(ModelFacts model, RoleLayout attention, RoleLayout experts, PipelineLimits pipeline,
                       List<List<Integer>> placement, Optional<DeploymentPlan> planned, OptionalDouble balanceAttentionPods) {

    public Topology {
        placement = placement.stream().map(List::copyOf).toList();
    }

    /**
     * @param pods       StatefulSet replicas
     * @param gpusPerPod tensor parallelism (nvidia.com/gpu per pod); 0 for CPU
     * @param gpuType    catalog GPU name the pods are pinned to, if any
     */
    public record RoleLayout(int pods, int gpusPerPod, Optional<String> gpuType) {
    }

    /** The {@code pipeline} object of the plan file (docs/PLAN.md). */
    public record PipelineLimits(int microBatches, int maxBatchTokens, int maxRunning, int maxWaiting, int maxModelLen,
                                 int kvBlocks, int kvBlockSize, int roundTimeoutMillis) {
    }

    public RoleLayout layout(Role role) {
        return role == Role.ATTENTION ? attention : experts;
    }
}
