package io.shuttle.operator.desired;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/** Expert placement: which expert ids each expert pod holds (docs/PLAN.md, experts.placement). */
public final class Placement {
    private Placement() {
    }

    /**
     * Places {@code copies} copies of each of {@code experts} experts on {@code pods} pods: copy
     * by copy, each expert goes to the least-loaded pod that does not hold it yet (lowest ordinal
     * on ties), so loads differ by at most one and no pod holds an expert twice.
     */
    public static List<List<Integer>> balanced(int experts, int pods, int copies) {
        if (copies > pods) {
            throw new InvalidSpecException("InvalidPlacement", "placement.replicasPerExpert " + copies
                    + " exceeds the " + pods + " expert pods; an expert can have at most one copy per pod");
        }
        if ((long) experts * copies < pods) {
            throw new InvalidSpecException("InvalidPlacement", pods + " expert pods but only " + experts + " experts × "
                    + copies + " copies: some pods would hold no expert; use at most " + (experts * copies)
                    + " expert pods or raise placement.replicasPerExpert");
        }
        List<List<Integer>> placement = new ArrayList<>();
        for (int p = 0; p < pods; p++) {
            placement.add(new ArrayList<>());
        }
        for (int c = 0; c < copies; c++) {
            for (int e = 0; e < experts; e++) {
                int best = -1;
                for (int p = 0; p < pods; p++) {
                    if (!placement.get(p).contains(e) && (best < 0 || placement.get(p).size() < placement.get(best).size())) {
                        best = p;
                    }
                }
                placement.get(best).add(e);
            }
        }
        placement.forEach(ids -> ids.sort(Integer::compare));
        return placement.stream().map(List::copyOf).toList();
    }

    /** The fewest copies that give each of {@code pods} pods at least one of {@code experts} experts. */
    public static int autoCopies(int experts, int pods) {
        return Math.max(1, (pods + experts - 1) / experts);
    }

    /** Checks an explicit placement against docs/PLAN.md's rules; the message lists every problem. */
    public static List<List<Integer>> checked(List<List<Integer>> placement, int experts, int pods) {
        List<String> problems = new ArrayList<>();
        if (placement.size() != pods) {
            problems.add("placement.experts has " + placement.size() + " entries for " + pods + " expert pods");
        }
        BitSet covered = new BitSet(experts);
        for (int p = 0; p < placement.size(); p++) {
            List<Integer> ids = placement.get(p);
            if (ids == null || ids.isEmpty()) {
                problems.add("placement.experts[" + p + "] is empty");
                continue;
            }
            BitSet seen = new BitSet(experts);
            for (Integer e : ids) {
                if (e == null || e < 0 || e >= experts) {
                    problems.add("placement.experts[" + p + "] names expert " + e + "; the model has experts 0.." + (experts - 1));
                } else if (seen.get(e)) {
                    problems.add("placement.experts[" + p + "] lists expert " + e + " twice");
                } else {
                    seen.set(e);
                    covered.set(e);
                }
            }
        }
        if (covered.cardinality() < experts) {
            BitSet missing = new BitSet();
            missing.set(0, experts);
            missing.andNot(covered);
            problems.add("experts " + missing + " are on no pod");
        }
        if (!problems.isEmpty()) {
            throw new InvalidSpecException("InvalidPlacement", String.join("; ", problems));
        }
        return placement.stream().map(List::copyOf).toList();
    }
}
