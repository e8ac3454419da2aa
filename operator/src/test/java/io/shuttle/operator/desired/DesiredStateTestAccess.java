package io.shuttle.operator.desired;

import io.shuttle.operator.api.RoleSpec;

/** Spec edits shared by tests in other packages. */
public final class DesiredStateTestAccess {
    private DesiredStateTestAccess() {
    }

    public static RoleSpec withReplicas(RoleSpec r, int replicas) {
        return DesiredStateTest.withReplicas(r, replicas);
    }
}
