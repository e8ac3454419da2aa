package io.shuttle.operator.desired;

import java.util.Optional;

/**
 * Both pools' sizing, the ratio band behind it, and a note when the band could not be met within
 * a pool's own minReplicas/maxReplicas.
 */
public record ScalingPlan(RoleScaling attention, RoleScaling experts, RatioBand band, Optional<String> note) {

    public RoleScaling role(Role role) {
        return role == Role.ATTENTION ? attention : experts;
    }

    public boolean anyAutoscaled() {
        return attention.autoscaled() || experts.autoscaled();
    }
}
