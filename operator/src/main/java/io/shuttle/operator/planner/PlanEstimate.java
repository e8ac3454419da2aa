package io.shuttle.operator.planner;

/**
 * A plan with the model's numbers behind it, for display and for the operator's status.
 *
 * @param plan              the plan
 * @param expertsPerPod     experts each expert pod holds
 * @param attentionLayerMs  {@code T_a} of one micro-batch in one layer
 * @param expertLayerMs     {@code T_e}
 * @param transferMs        {@code T_c}, one way
 * @param headMs            output head of one micro-batch
 * @param attentionPodGiB   weights and KV cache one attention pod holds at this batch
 * @param attentionPodCapacityGiB usable memory of one attention pod
 * @param expertPodGiB      expert weights one expert pod holds
 * @param coefficients      {@code k1..k4} of this hardware shape
 * @param balanceAttentionPods the paper's BALANCE, {@code n_a = k1·E/(k3·K)} (with expert pods for
 *                          {@code E}); the search tries every {@code n_a} instead, since the
 *                          intercepts {@code k2}, {@code k4} also matter
 */
public record PlanEstimate(DeploymentPlan plan, int expertsPerPod, double attentionLayerMs, double expertLayerMs,
                           double transferMs, double headMs, double attentionPodGiB, double attentionPodCapacityGiB,
                           double expertPodGiB, Coefficients coefficients, double balanceAttentionPods) {

    /** {@code T_f = max(T_a, T_e)}. */
    public double forwardLayerMs() {
        return Math.max(attentionLayerMs, expertLayerMs);
    }

    /** {@code T_c / T_f}: below 0.5 three micro-batches hide the transfers, below 1 four do. */
    public double transferRatio() {
        return transferMs / forwardLayerMs();
    }

    static PlanEstimate of(Estimate e, Simulator.Shape shape, int topK) {
        Hardware hw = e.hardware();
        DeploymentPlan plan = new DeploymentPlan(
                new RolePlan(hw.attentionGpu().name(), hw.tpA(), e.attentionPods()),
                new RolePlan(hw.expertGpu().name(), hw.tpE(), e.expertPods()),
                e.microBatches(), e.batch(), e.tbt() * 1e3, e.tokensPerS(), e.costPerHour());
        Coefficients k = Coefficients.of(shape.attention().tangentAt(e.ba()), shape.expert().tangentAt(e.be()));
        double gib = 1024.0 * 1024 * 1024;
        return new PlanEstimate(plan, hw.expertsPerPod(), e.ta() * 1e3, e.te() * 1e3, e.tc() * 1e3, e.head() * 1e3,
                e.attentionPodBytes() / gib, shape.attentionCapacity() / gib, e.expertPodBytes() / gib, k,
                k.k1() * e.expertPods() / (k.k3() * topK));
    }
}
