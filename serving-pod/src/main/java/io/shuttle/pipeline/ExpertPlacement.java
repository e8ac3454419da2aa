package io.shuttle.pipeline;

import java.util.ArrayList;
import java.util.List;

/**
 * Which expert pod serves which expert, from the plan's placement (per pod, the experts it
 * holds). An expert held by several pods is replicated: its tokens are split among the
 * replicas by row, deterministically, so every attention pod spreads the load the same way.
 */
public final class ExpertPlacement {
    private final int[][] replicas;   // expert → pods holding it
    private final int[][] heldByPod;  // pod → experts

    public ExpertPlacement(List<List<Integer>> perPod, int numExperts) {
        List<List<Integer>> byExpert = new ArrayList<>();
        for (int e = 0; e < numExperts; e++) {
            byExpert.add(new ArrayList<>());
        }
        heldByPod = new int[perPod.size()][];
        for (int pod = 0; pod < perPod.size(); pod++) {
            heldByPod[pod] = perPod.get(pod).stream().mapToInt(Integer::intValue).toArray();
            for (int e : heldByPod[pod]) {
                if (e < 0 || e >= numExperts) {
                    throw new IllegalArgumentException("placement of pod " + pod + " names expert " + e
                            + "; the model has experts 0.." + (numExperts - 1));
                }
                byExpert.get(e).add(pod);
            }
        }
        replicas = new int[numExperts][];
        for (int e = 0; e < numExperts; e++) {
            if (byExpert.get(e).isEmpty()) {
                throw new IllegalArgumentException("expert " + e + " is on no pod; every expert needs at least one");
            }
            replicas[e] = byExpert.get(e).stream().mapToInt(Integer::intValue).toArray();
        }
    }

    /** Every expert on its own pod, round-robin: expert e on pod e mod pods. */
    public static ExpertPlacement roundRobin(int numExperts, int pods) {
        List<List<Integer>> perPod = new ArrayList<>();
        for (int p = 0; p < pods; p++) {
            perPod.add(new ArrayList<>());
        }
        for (int e = 0; e < numExperts; e++) {
            perPod.get(e % pods).add(e);
        }
        return new ExpertPlacement(perPod, numExperts);
    }

    public int pods() {
        return heldByPod.length;
    }

    /** The pod that computes {@code expert} for the micro-batch row {@code row}. */
    public int podFor(int expert, int row) {
        int[] r = replicas[expert];
        return r.length == 1 ? r[0] : r[row % r.length];
    }

    /** The experts pod {@code pod} holds. */
    public int[] heldBy(int pod) {
        return heldByPod[pod].clone();
    }
}
