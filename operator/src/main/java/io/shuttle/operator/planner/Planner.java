package io.shuttle.operator.planner;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The paper's Algorithm 1 (§4.2) with the heterogeneous extension of §4.3: every attention GPU
 * type × every expert GPU type × {@code tp_a} × {@code tp_e} × experts per pod × {@code m} ×
 * {@code n_a}, each with a binary search on the batch ({@link Simulator}); the objective is decode
 * throughput per unit of hourly cost under the TBT SLO.
 *
 * <p>Where the paper fixes {@code n_a} by BALANCE ({@code k1·E/(k3·K)}, equal slopes), this
 * search tries every {@code n_a} up to {@link SearchSpace#maxAttentionPods()}: with derived rather
 * than profiled coefficients the intercepts {@code k2}, {@code k4} are large (weights dominate a
 * decode step), and the slope balance alone misses the best point. The cost stays small: a few
 * million evaluations of closed forms, well under a second for the whole catalog.
 *
 * <p>Stateless and thread-safe.
 */
public final class Planner {

    private final PerfConstants constants;
    private final SearchSpace space;

    public Planner() {
        this(PerfConstants.defaults(), SearchSpace.defaults());
    }

    public Planner(PerfConstants constants, SearchSpace space) {
        this.constants = constants;
        this.space = space;
    }

    /** All feasible plans, best first (throughput per cost, descending). Never empty: throws PlanInfeasibleException instead. */
    public List<DeploymentPlan> plan(PlanRequest request) {
        return search(request).stream().map(PlanEstimate::plan).toList();
    }

    /**
     * The best plan of every hardware shape (GPU type and tp per role, experts per pod) that has a
     * feasible one, best first, with the model's numbers. Throws {@link PlanInfeasibleException}
     * when there is none, and {@link IllegalArgumentException} for a GPU type the catalog lacks.
     */
    public List<PlanEstimate> search(PlanRequest request) {
        GpuCatalog catalog = request.catalog();
        List<GpuType> attentionGpus = request.attentionGpu().map(n -> List.of(catalog.require(n))).orElse(catalog.all());
        List<GpuType> expertGpus = request.expertGpu().map(n -> List.of(catalog.require(n))).orElse(catalog.all());
        List<Integer> ms = request.microBatches().isPresent()
                ? List.of(request.microBatches().getAsInt()) : space.microBatchChoices();
        ModelShape model = request.model();
        PerformanceModel perf = new PerformanceModel(model, request.avgSeqLen(), constants);
        Simulator sim = new Simulator(perf, space, request.sloTbtMs() / 1e3);
        Diagnostics why = new Diagnostics();
        Map<Hardware, PlanEstimate> best = new HashMap<>();
        for (GpuType ga : attentionGpus) {
            for (GpuType ge : expertGpus) {
                for (int tpA : space.tpChoices()) {
                    for (int tpE : space.tpChoices()) {
                        for (int perPod : divisors(model.experts())) {
                            Hardware hw = new Hardware(ga, tpA, ge, tpE, perPod);
                            searchShape(sim, sim.shape(hw), ms, model.topK(), why)
                                    .ifPresent(p -> best.put(hw, p));
                        }
                    }
                }
            }
        }
        if (best.isEmpty()) {
            throw new PlanInfeasibleException(why.explain(request, perf, maxTp()));
        }
        List<PlanEstimate> ranked = new ArrayList<>(best.values());
        ranked.sort(RANKING);
        return List.copyOf(ranked);
    }

    /** Best first: throughput per cost, then lower TBT, then lower cost, then names (deterministic). */
    static final Comparator<PlanEstimate> RANKING = Comparator
            .comparingDouble((PlanEstimate p) -> -p.plan().tokensPerSPerCost())
            .thenComparingDouble(p -> p.plan().tbtMs())
            .thenComparingDouble(p -> p.plan().costPerHour())
            .thenComparing(p -> p.plan().attention().gpu() + p.plan().attention().tp() + p.plan().experts().gpu()
                    + p.plan().experts().tp() + "/" + p.expertsPerPod());

    private Optional<PlanEstimate> searchShape(Simulator sim, Simulator.Shape shape, List<Integer> ms,
                                                         int topK, Diagnostics why) {
        if (!shape.expertsFit()) {
            why.memory++;
            return Optional.empty();
        }
        Estimate best = null;
        for (int m : ms) {
            int upper = space.maxBatchPerPod();
            for (int nA = 1; nA <= space.maxAttentionPods(); nA++) {
                Simulator.Outcome outcome = sim.best(shape, nA, m, upper);
                if (outcome instanceof Simulator.Fits(Estimate e, int sloBound)) {
                    upper = sloBound;
                    if (best == null || better(e, best)) {
                        best = e;
                    }
                } else if (outcome instanceof Simulator.TooSlow(double tbt)) {
                    why.slowest(tbt, shape.hw(), nA, m);
                    break; // more attention pods only add tokens per expert: slower still
                } else if (outcome instanceof Simulator.NoOverlap(double ratio)) {
                    why.overlap(ratio);
                } else {
                    why.memory++;
                    break; // attention memory does not depend on n_a
                }
            }
        }
        if (best == null) {
            return Optional.empty();
        }
        return Optional.of(PlanEstimate.of(best, shape, topK));
    }

    private int maxTp() {
        return space.tpChoices().stream().mapToInt(Integer::intValue).max().orElse(1);
    }

    private static boolean better(Estimate a, Estimate b) {
        double pa = a.tokensPerSPerCost();
        double pb = b.tokensPerSPerCost();
        return pa != pb ? pa > pb : a.tbt() < b.tbt();
    }

    static List<Integer> divisors(int n) {
        List<Integer> d = new ArrayList<>();
        for (int i = 1; i <= n; i++) {
            if (n % i == 0) {
                d.add(i);
            }
        }
        return d;
    }

    /** Why candidates failed, to explain an empty result in one line. */
    private static final class Diagnostics {
        int memory;
        int overlapFailures;
        double bestRatio = Double.POSITIVE_INFINITY;
        double fastest = Double.POSITIVE_INFINITY;
        String fastestLabel = "";

        void slowest(double tbt, Hardware hw, int nA, int m) {
            if (tbt < fastest) {
                fastest = tbt;
                fastestLabel = hw.label() + ", " + nA + " attention pod" + (nA == 1 ? "" : "s") + ", m=" + m
                        + ", one sequence per micro-batch";
            }
        }

        void overlap(double ratio) {
            overlapFailures++;
            bestRatio = Math.min(bestRatio, ratio);
        }

        String explain(PlanRequest r, PerformanceModel perf, int maxTp) {
            if (fastest < Double.POSITIVE_INFINITY) {
                return String.format("no plan meets tbt %s ms: the fastest candidate needs %.1f ms (%s)",
                        fmt(r.sloTbtMs()), fastest * 1e3, fastestLabel);
            }
            if (overlapFailures > 0) {
                return String.format("no plan meets the ping-pong conditions (T_c < T_f, m·T_f >= 2(T_f + T_c)): "
                        + "the best candidate moves data for %.2f× as long as it computes; the network between "
                        + "attention and expert pods is too slow for this model", bestRatio);
            }
            ModelShape m = r.model();
            double gib = 1024.0 * 1024 * 1024;
            return String.format("%s does not fit the GPU memory tried: attention needs %.1f GiB of weights plus "
                            + "%.0f MiB of KV cache per sequence of %s tokens, one expert %.1f GiB (GPU types tried: %s; "
                            + "tp up to %d)", m.name(), m.attentionWeightBytes() / gib,
                    perf.kvBytesPerSequence(1) / (1024.0 * 1024), fmt(r.avgSeqLen()), m.expertWeightBytes() / gib,
                    r.attentionGpu().map(a -> a + " / " + r.expertGpu().orElse("all")).orElse(
                            r.expertGpu().map(e -> "all / " + e).orElse("all")),
                    maxTp);
        }

        private static String fmt(double v) {
            return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
        }
    }
}
