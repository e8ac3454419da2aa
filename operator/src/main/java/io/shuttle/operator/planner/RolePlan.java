package io.shuttle.operator.planner;

/**
 * One role of a plan.
 *
 * @param gpu  GPU type name, as in the catalog
 * @param tp   GPUs per pod (tensor parallelism inside the pod)
 * @param pods pods of this role in one instance ({@code n_a} for attention; expert pods for experts)
 */
public record RolePlan(String gpu, int tp, int pods) {

    public RolePlan {
        if (gpu == null || gpu.isBlank()) {
            throw new IllegalArgumentException("role GPU type must not be blank");
        }
        if (tp < 1 || pods < 1) {
            throw new IllegalArgumentException("tp and pods must be positive, got tp " + tp + ", pods " + pods);
        }
    }

    /** GPUs of this role: {@code tp · pods}. */
    public int gpus() {
        return tp * pods;
    }
}
