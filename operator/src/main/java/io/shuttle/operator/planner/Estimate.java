package io.shuttle.operator.planner;

/**
 * The performance model evaluated for one candidate at one micro-batch size. Times in seconds.
 *
 * @param hardware      GPU types, tp per role and experts per pod
 * @param attentionPods {@code n_a}
 * @param expertPods    expert pods ({@code E / experts per pod})
 * @param microBatches  {@code m}
 * @param ba            sequences per micro-batch per attention pod, {@code b_a}
 * @param be            tokens per micro-batch reaching one expert pod, {@code b_e = b_a·n_a·K / pods}
 * @param ta            {@code T_a}
 * @param te            {@code T_e}
 * @param tc            {@code T_c}, the slower of sending and receiving (Eq. 6)
 * @param head          output head of one micro-batch (once per iteration)
 * @param tbt           time between tokens: Eq. 5 generalised (see {@link Simulator}) plus {@code m · head}
 * @param attentionPodBytes weights and KV an attention pod holds
 * @param expertPodBytes    weights an expert pod holds
 * @param costPerHour   of the instance
 */
record Estimate(Hardware hardware, int attentionPods, int expertPods, int microBatches, int ba, double be,
                double ta, double te, double tc, double head, double tbt,
                double attentionPodBytes, double expertPodBytes, double costPerHour) {

    double tf() {
        return Math.max(ta, te);
    }

    /** {@code B = m · n_a · b_a}. */
    int batch() {
        return microBatches * attentionPods * ba;
    }

    double tokensPerS() {
        return batch() / tbt;
    }

    double tokensPerSPerCost() {
        return tokensPerS() / costPerHour;
    }
}
