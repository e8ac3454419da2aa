package io.shuttle.operator.desired;

import io.shuttle.operator.api.RoleAutoscalingSpec;

import java.util.Optional;

/**
 * How one pool is sized.
 *
 * @param role        the pool
 * @param autoscaler  the pool's autoscaling settings, when enabled
 * @param replicas    pods in force: under an autoscaler the live StatefulSet's count (or the
 *                    initial count before the StatefulSet exists); otherwise the planned count
 * @param minReplicas the autoscaler's lower bound (the user's, narrowed by the ratio band)
 * @param maxReplicas the autoscaler's upper bound
 */
public record RoleScaling(Role role, Optional<RoleAutoscalingSpec> autoscaler, int replicas, int minReplicas,
                          int maxReplicas) {

    public RoleScaling {
        if (minReplicas < 1 || maxReplicas < minReplicas) {
            throw new IllegalArgumentException(role + ": bounds need 1 ≤ min ≤ max, got " + minReplicas + ".." + maxReplicas);
        }
    }

    /** A pool without an autoscaler: the operator keeps {@code replicas}. */
    static RoleScaling fixed(Role role, int replicas) {
        return new RoleScaling(role, Optional.empty(), replicas, Math.max(1, replicas), Math.max(1, replicas));
    }

    public boolean autoscaled() {
        return autoscaler.isPresent();
    }
}
