package io.shuttle.operator.desired;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;
import java.util.Map;

/**
 * The {@link Names#ANNOTATION_PLAN_HASH} value of each role's pod template: a digest over only the
 * parts of the plan file that the role's pods cannot take up while they run. A plan change then
 * restarts only the pool that needs it; the other pool reads the new file in place.
 *
 * <ul>
 *   <li>Attention pods re-read the plan and move to a new expert pool or placement at a step
 *       boundary, and never need the list of the other attention pods. Only {@code deployment}
 *       (the M2N identity) and {@code pipeline} (batch and KV limits sized at start) restart them,
 *       so scaling either pool leaves them running.</li>
 *   <li>Expert pods accept attention pods that join or leave at any time, but load the experts the
 *       placement gives their ordinal when they start: {@code deployment}, the whole
 *       {@code experts} part (count, addresses, placement) and {@code pipeline} restart them.
 *       Scaling attention leaves them running.</li>
 * </ul>
 */
public final class PlanHashes {
    /** Hex digits of the SHA-256 kept: enough to tell plans apart, short enough to read in kubectl. */
    static final int LENGTH = 16;

    private PlanHashes() {
    }

    /** The plan's top-level fields that a role's pods read only at start, in the plan's order. */
    public static List<String> startOnlyFields(Role role) {
        return switch (role) {
            case ATTENTION -> List.of("deployment", "pipeline");
            case EXPERTS -> List.of("deployment", "experts", "pipeline");
        };
    }

    /**
     * The digest of {@link #startOnlyFields} of {@code plan}, written by the plan file's own
     * serializer in a fixed field order, so that the same parts always give the same hash.
     *
     * @param plan a plan tree from {@link ServingPlanJson#tree}
     */
    public static String of(JsonNode plan, Role role) {
        ObjectNode parts = JsonNodeFactory.instance.objectNode();
        for (String field : startOnlyFields(role)) {
            JsonNode value = plan.get(field);
            if (value == null) {
                throw new IllegalArgumentException("the plan has no '" + field + "' field, which the "
                        + role.suffix() + " pods' plan hash covers; fields present: " + fieldNames(plan));
            }
            parts.set(field, value);
        }
        return ConfigManifests.sha256(ServingPlanJson.write(parts)).substring(0, LENGTH);
    }

    private static List<String> fieldNames(JsonNode plan) {
        return plan.properties().stream().map(Map.Entry::getKey).toList();
    }
}
