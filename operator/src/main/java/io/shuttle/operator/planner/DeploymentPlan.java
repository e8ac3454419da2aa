package io.shuttle.operator.planner;

/**
 * A chosen deployment of one instance (one model replica).
 *
 * @param attention    attention pods
 * @param experts      expert pods
 * @param microBatches {@code m}, the ping-pong micro-batches in flight
 * @param batch        {@code B}, sequences decoded together by the instance ({@code m · n_a · b_a})
 * @param tbtMs        predicted time between tokens of one sequence (Eq. 5 plus the output head)
 * @param tokensPerS   predicted decode throughput of the instance, {@code B / TBT}
 * @param costPerHour  {@code tp_a · n_a · price_a + tp_e · pods_e · price_e}, in the catalog's price unit
 */
public record DeploymentPlan(RolePlan attention, RolePlan experts, int microBatches, int batch,
                             double tbtMs, double tokensPerS, double costPerHour) {

    public DeploymentPlan {
        if (attention == null || experts == null) {
            throw new IllegalArgumentException("a plan needs both roles");
        }
        if (microBatches < 1 || batch < 1) {
            throw new IllegalArgumentException("micro-batches and batch must be positive");
        }
    }

    /** The objective: decode tokens per second per unit of hourly cost. */
    public double tokensPerSPerCost() {
        return tokensPerS / costPerHour;
    }
}
