package io.shuttle.operator.planner;

import java.util.List;

/**
 * What Algorithm 1 enumerates.
 *
 * @param tpChoices           tensor-parallel degrees per pod for either role (the paper's
 *                            {@code M_a}, {@code M_e}: GPUs of one server)
 * @param microBatchChoices   {@code m} values tried when the request does not fix one; the paper
 *                            tries 3..N_m with N_m = 4, and 2 is added where T_c allows (below)
 * @param maxAttentionPods    largest {@code n_a} tried
 * @param maxBatchPerPod      largest micro-batch per attention pod {@code b_a} the binary search tries
 * @param twoMicroBatchMaxTc  {@code m = 2} cannot hide any transfer (Eq. 3 needs {@code T_c ≤ 0}),
 *                            so it is accepted only when {@code T_c ≤ this · T_f}: the idle gap is
 *                            then at most this share of each layer, and larger micro-batches may
 *                            pay it back
 */
public record SearchSpace(List<Integer> tpChoices, List<Integer> microBatchChoices, int maxAttentionPods,
                          int maxBatchPerPod, double twoMicroBatchMaxTc) {

    public SearchSpace {
        tpChoices = List.copyOf(tpChoices);
        microBatchChoices = List.copyOf(microBatchChoices);
        if (tpChoices.isEmpty() || tpChoices.stream().anyMatch(t -> t < 1)) {
            throw new IllegalArgumentException("tp choices must be positive and not empty, got " + tpChoices);
        }
        if (microBatchChoices.isEmpty() || microBatchChoices.stream().anyMatch(m -> m < 1)) {
            throw new IllegalArgumentException("micro-batch choices must be positive and not empty, got "
                    + microBatchChoices);
        }
        if (maxAttentionPods < 1 || maxBatchPerPod < 1) {
            throw new IllegalArgumentException("maxAttentionPods and maxBatchPerPod must be positive");
        }
        if (!(twoMicroBatchMaxTc >= 0) || twoMicroBatchMaxTc >= 1) {
            throw new IllegalArgumentException("twoMicroBatchMaxTc must be in [0, 1), got " + twoMicroBatchMaxTc);
        }
    }

    public static SearchSpace defaults() {
        return new SearchSpace(List.of(1, 2, 4, 8), List.of(2, 3, 4), 64, 8192, 0.1);
    }

    /** The paper's Algorithm 1 exactly: m ∈ {3, 4}. */
    public static SearchSpace paper() {
        return new SearchSpace(List.of(1, 2, 4, 8), List.of(3, 4), 64, 8192, 0.1);
    }

    public SearchSpace withMicroBatchChoices(List<Integer> choices) {
        return new SearchSpace(tpChoices, choices, maxAttentionPods, maxBatchPerPod, twoMicroBatchMaxTc);
    }
}
