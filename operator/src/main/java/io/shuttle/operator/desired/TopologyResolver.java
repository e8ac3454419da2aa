package io.shuttle.operator.desired;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.shuttle.operator.api.GpuSpec;
import io.shuttle.operator.api.MoEDeploymentSpec;
import io.shuttle.operator.api.PipelineSpec;
import io.shuttle.operator.api.PlacementSpec;
import io.shuttle.operator.api.PlanSpec;
import io.shuttle.operator.api.RoleSpec;
import io.shuttle.operator.planner.DeploymentPlan;
import io.shuttle.operator.planner.GpuCatalog;
import io.shuttle.operator.planner.GpuType;
import io.shuttle.operator.planner.PlanEstimate;
import io.shuttle.operator.planner.PlanInfeasibleException;
import io.shuttle.operator.planner.PlanRequest;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.function.Function;

/**
 * Spec → {@link Topology}: sizes the pools (by hand or with the planner), places the experts and
 * fills in the pipeline limits. Pure: the planner is passed in, nothing touches the cluster.
 * Everything the CRD schema cannot check ends here as an {@link InvalidSpecException}.
 */
public final class TopologyResolver {
    static final int DEFAULT_MANUAL_MICRO_BATCHES = 2;
    static final int DEFAULT_MAX_BATCH = 512;

    private final BestSearch planner;

    /** The planner's best plan and its BALANCE value, when the search reports one. */
    private record Best(DeploymentPlan plan, OptionalDouble balanceAttentionPods) {
    }

    /** The plan search reduced to its best plan. */
    @FunctionalInterface
    private interface BestSearch {
        Best apply(PlanRequest request);
    }

    /** @param planner the plan search (best first), e.g. {@code new Planner()::plan} */
    public TopologyResolver(Function<PlanRequest, List<DeploymentPlan>> planner) {
        this.planner = r -> new Best(planner.apply(r).getFirst(), OptionalDouble.empty());
    }

    private TopologyResolver(BestSearch planner) {
        this.planner = planner;
    }

    /**
     * A resolver on the planner's full search ({@code new Planner()::search}), which also keeps
     * the paper's BALANCE value of the chosen plan for the autoscaling ratio band.
     */
    public static TopologyResolver withEstimates(Function<PlanRequest, List<PlanEstimate>> search) {
        return new TopologyResolver((BestSearch) r -> {
            PlanEstimate best = search.apply(r).getFirst();
            double balance = best.balanceAttentionPods();
            return new Best(best.plan(), Double.isFinite(balance) && balance > 0 ? OptionalDouble.of(balance)
                    : OptionalDouble.empty());
        });
    }

    public Topology resolve(MoEDeploymentSpec spec) {
        if (spec == null || spec.model() == null || spec.attention() == null || spec.experts() == null) {
            throw new InvalidSpecException("InvalidSpec", "spec needs model, image, attention and experts");
        }
        ModelFacts model = ModelFacts.of(spec.model());
        PlanSpec plan = spec.plan() == null ? new PlanSpec(null, null, null, null, null) : spec.plan();
        PipelineSpec pipeline = spec.pipeline() == null ? new PipelineSpec(null, null, null, null, null, null, null, null, null)
                : spec.pipeline();
        Topology.RoleLayout attention;
        Topology.RoleLayout experts;
        Optional<DeploymentPlan> planned;
        OptionalDouble balance = OptionalDouble.empty();
        int microBatches;
        int batch;
        if (plan.modeOrDefault() == PlanSpec.Mode.AUTO) {
            Best found = search(spec, plan, pipeline, model);
            DeploymentPlan best = found.plan();
            balance = found.balanceAttentionPods();
            planned = Optional.of(best);
            attention = new Topology.RoleLayout(best.attention().pods(), best.attention().tp(), Optional.of(best.attention().gpu()));
            experts = new Topology.RoleLayout(best.experts().pods(), best.experts().tp(), Optional.of(best.experts().gpu()));
            microBatches = best.microBatches();
            batch = best.batch();
        } else {
            planned = Optional.empty();
            attention = manual(spec.attention());
            experts = manual(spec.experts());
            microBatches = DEFAULT_MANUAL_MICRO_BATCHES;
            batch = DEFAULT_MAX_BATCH;
        }
        Topology.PipelineLimits limits = limits(pipeline, microBatches, batch, model);
        List<List<Integer>> placement = placement(spec.placement(), model.shape().experts(), experts.pods());
        return new Topology(model, attention, experts, limits, placement, planned, balance);
    }

    /**
     * The same deployment with other pod counts (the live counts an autoscaler chose): the expert
     * placement is made again for the new expert pod count, the rest is kept.
     */
    public static Topology resized(Topology t, PlacementSpec placement, int attentionPods, int expertPods) {
        if (t.attention().pods() == attentionPods && t.experts().pods() == expertPods) {
            return t;
        }
        Topology.RoleLayout a = new Topology.RoleLayout(attentionPods, t.attention().gpusPerPod(), t.attention().gpuType());
        Topology.RoleLayout e = new Topology.RoleLayout(expertPods, t.experts().gpusPerPod(), t.experts().gpuType());
        List<List<Integer>> p = expertPods == t.experts().pods() ? t.placement()
                : placement(placement, t.model().shape().experts(), expertPods);
        return new Topology(t.model(), a, e, t.pipeline(), p, t.planned(), t.balanceAttentionPods());
    }

    private static Topology.RoleLayout manual(RoleSpec role) {
        return new Topology.RoleLayout(role.replicasOrDefault(), role.gpusOrDefault(), Optional.ofNullable(role.gpuType()));
    }

    private Best search(MoEDeploymentSpec spec, PlanSpec plan, PipelineSpec pipeline, ModelFacts model) {
        if (plan.sloTbtMs() == null) {
            throw new InvalidSpecException("InvalidPlan", "plan.mode auto needs plan.sloTbtMs");
        }
        GpuCatalog catalog = catalog(plan);
        Optional<String> attentionGpu = knownGpu(catalog, "attention", spec.attention().gpuType());
        Optional<String> expertGpu = knownGpu(catalog, "experts", spec.experts().gpuType());
        OptionalInt m = pipeline.microBatches() != null && pipeline.microBatches().getIntVal() != null
                ? OptionalInt.of(pipeline.microBatches().getIntVal()) : OptionalInt.empty();
        double avgSeqLen = plan.avgSeqLen() == null ? PlanRequest.DEFAULT_AVG_SEQ_LEN : plan.avgSeqLen();
        try {
            return planner.apply(new PlanRequest(model.shape(), attentionGpu, expertGpu, plan.sloTbtMs(), avgSeqLen,
                    catalog, m));
        } catch (PlanInfeasibleException e) {
            throw new InvalidSpecException("PlanInfeasible", e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new InvalidSpecException("InvalidPlan", e.getMessage());
        }
    }

    private static Optional<String> knownGpu(GpuCatalog catalog, String role, String gpu) {
        if (gpu != null && catalog.find(gpu).isEmpty()) {
            throw new InvalidSpecException("UnknownGpuType", role + ".gpuType '" + gpu + "' is not in the GPU catalog ("
                    + String.join(", ", catalog.all().stream().map(GpuType::name).toList())
                    + "); add it under plan.gpuCatalog");
        }
        return Optional.ofNullable(gpu);
    }

    static GpuCatalog catalog(PlanSpec plan) {
        GpuCatalog base = GpuCatalog.builtin();
        Map<String, GpuType> overrides = new LinkedHashMap<>();
        if (plan.gpuCatalog() != null) {
            plan.gpuCatalog().forEach((name, g) -> overrides.put(name, gpuType(name, g)));
        }
        GpuCatalog withTypes = base.withOverrides(overrides);
        if (plan.prices() != null) {
            Map<String, GpuType> priced = new LinkedHashMap<>();
            plan.prices().forEach((name, price) -> {
                GpuType g = withTypes.find(name).orElseThrow(() -> new InvalidSpecException("UnknownGpuType",
                        "plan.prices names GPU '" + name + "', which is not in the catalog; add it under plan.gpuCatalog"));
                priced.put(name, new GpuType(g.name(), g.memoryGiB(), g.bandwidthGBs(), g.bf16Tflops(), g.networkGbps(), price));
            });
            return withTypes.withOverrides(priced);
        }
        return withTypes;
    }

    private static GpuType gpuType(String name, GpuSpec g) {
        try {
            return new GpuType(name, g.memoryGiB(), g.bandwidthGBs(), g.bf16Tflops(), g.networkGbps(), g.pricePerHour());
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new InvalidSpecException("InvalidPlan", "plan.gpuCatalog." + name + ": " + e.getMessage());
        }
    }

    private static Topology.PipelineLimits limits(PipelineSpec p, int plannedMicroBatches, int plannedBatch, ModelFacts model) {
        int microBatches = microBatches(p.microBatches(), plannedMicroBatches);
        int maxBatch = p.maxBatch() != null ? p.maxBatch() : plannedBatch;
        int maxRunning = p.maxRunning() != null ? p.maxRunning() : Math.min(64, maxBatch);
        int maxModelLen = p.maxModelLen() != null ? p.maxModelLen() : Math.min(4096, model.maxPositions());
        if (maxRunning > maxBatch) {
            throw new InvalidSpecException("InvalidPipeline", "pipeline.maxRunning (" + maxRunning
                    + ") cannot exceed the batch (" + maxBatch + ")");
        }
        if (maxModelLen > model.maxPositions()) {
            throw new InvalidSpecException("InvalidPipeline", "pipeline.maxModelLen " + maxModelLen + " exceeds the model's "
                    + model.maxPositions() + " positions");
        }
        return new Topology.PipelineLimits(microBatches, maxBatch, maxRunning,
                p.maxWaiting() != null ? p.maxWaiting() : 256, maxModelLen,
                p.kvBlocks() != null ? p.kvBlocks() : 1024,
                p.kvBlockSize() != null ? p.kvBlockSize() : 16,
                p.roundTimeoutMillis() != null ? p.roundTimeoutMillis() : 5000);
    }

    private static int microBatches(IntOrString value, int planned) {
        if (value == null || "auto".equals(value.getStrVal())) {
            return planned;
        }
        Integer m = value.getIntVal();
        if (m == null || m < 1 || m > 16) {
            throw new InvalidSpecException("InvalidPipeline", "pipeline.microBatches must be 'auto' or 1..16, got " + value);
        }
        return m;
    }

    private static List<List<Integer>> placement(PlacementSpec spec, int experts, int pods) {
        if (spec != null && spec.experts() != null && !spec.experts().isEmpty()) {
            return Placement.checked(spec.experts(), experts, pods);
        }
        IntOrString copies = spec == null ? null : spec.replicasPerExpert();
        if (copies == null || "auto".equals(copies.getStrVal())) {
            return Placement.balanced(experts, pods, Placement.autoCopies(experts, pods));
        }
        if (copies.getIntVal() == null || copies.getIntVal() < 1) {
            throw new InvalidSpecException("InvalidPlacement", "placement.replicasPerExpert must be 'auto' or ≥ 1, got " + copies);
        }
        return Placement.balanced(experts, pods, copies.getIntVal());
    }
}
