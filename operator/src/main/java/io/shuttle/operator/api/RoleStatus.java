package io.shuttle.operator.api;

/**
 * Pod counts of one role's StatefulSet.
 *
 * @param desired replicas asked for
 * @param ready   pods ready
 * @param updated pods already on the current template revision
 */
public record RoleStatus(int desired, int ready, int updated) {
}
