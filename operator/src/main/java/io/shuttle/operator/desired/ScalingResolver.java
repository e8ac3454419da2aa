package io.shuttle.operator.desired;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.shuttle.operator.api.AutoscalingSpec;
import io.shuttle.operator.api.MoEDeploymentSpec;
import io.shuttle.operator.api.PlacementSpec;
import io.shuttle.operator.api.RatioBandSpec;
import io.shuttle.operator.api.RoleAutoscalingSpec;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Spec + topology + the live pod counts → each pool's size and its autoscaler's bounds. Pure.
 *
 * <p><b>One writer of {@code spec.replicas}.</b> When a pool autoscales, its HPA (or the HPA that
 * KEDA makes from the ScaledObject) is the only thing that changes the StatefulSet's replicas.
 * The operator never does, not even to keep the attention/expert ratio band: it enforces the band
 * by writing the <em>autoscaler's</em> {@code minReplicas}/{@code maxReplicas}, and the HPA
 * controller moves replicas into those bounds itself. The alternatives have two writers: clamping
 * the StatefulSet directly races the HPA (each undoes the other's write every sync), and a scale
 * adapter CR only moves the second writer elsewhere. (How a StatefulSet write keeps the live
 * count: {@link StatefulSetManifests#forWrite}.)
 *
 * <p><b>Leader and follower.</b> Bounds that depend on each other in both directions could lock
 * (attention capped by the experts, experts capped by attention, neither growing). So attention,
 * which sees the load first (waiting requests, KV cache), leads: its bounds are static — the
 * user's, narrowed to what the experts' own range can follow
 * ({@code [ceil(minE·rmin), floor(maxE·rmax)]}). The experts follow the attention pods in force
 * {@code a}: {@code [max(minE, ceil(a/rmax)), min(maxE, floor(a/rmin))]}, recomputed on every
 * attention scale event. A pool without an autoscaler keeps its planned count and is the fixed
 * side of the band. When the band and a pool's own minReplicas/maxReplicas cannot both hold, the
 * user's bounds win (they are cost and capacity limits) and {@link ScalingPlan#note()} says so.
 *
 * <p><b>Default band.</b> Around the plan's ratio {@code r0 = n_a / expert pods} and, when the
 * planner chose the plan, the paper's BALANCE ratio {@code rb = (k1·E/(k3·K)) / expert pods}
 * ({@code PlanEstimate.balanceAttentionPods}): {@code [min(r0, rb)/2, max(r0, rb)·2]}. Both are in
 * the band, since the planner searches {@code n_a} rather than taking BALANCE (docs/PLANNER.md).
 * A bound given in {@code spec.autoscaling.ratio} replaces the default one.
 */
public final class ScalingResolver {
    /** Rounding slack, so that 2 / 0.5 is 4 pods and not 5 after floating-point error. */
    private static final double EPS = 1e-9;

    private ScalingResolver() {
    }

    /**
     * @param spec          the deployment spec
     * @param topology      the planned deployment (its pod counts are the nominal ones)
     * @param liveAttention replicas of the live attention StatefulSet, if it exists
     * @param liveExperts   replicas of the live expert StatefulSet, if it exists
     */
    public static ScalingPlan resolve(MoEDeploymentSpec spec, Topology topology, OptionalInt liveAttention,
                                      OptionalInt liveExperts) {
        AutoscalingSpec as = spec.autoscaling();
        Optional<RoleAutoscalingSpec> a = enabled(as == null ? null : as.attention());
        Optional<RoleAutoscalingSpec> e = enabled(as == null ? null : as.experts());
        int nominalA = topology.attention().pods();
        int nominalE = topology.experts().pods();
        RatioBand band = band(as == null ? null : as.ratio(), topology);
        if (a.isEmpty() && e.isEmpty()) {
            return new ScalingPlan(RoleScaling.fixed(Role.ATTENTION, nominalA), RoleScaling.fixed(Role.EXPERTS, nominalE),
                    band, Optional.empty());
        }
        List<String> notes = new ArrayList<>();
        int[] userE = e.map(r -> expertBounds(r, spec.placement(), topology.model().shape().experts()))
                .orElse(new int[] {nominalE, nominalE});

        RoleScaling attention;
        if (a.isPresent()) {
            int[] user = bounds("autoscaling.attention", a.get());
            int[] window = within(user, ceil(userE[0] * band.min()), floor(userE[1] * band.max()), "attention", band, notes);
            attention = new RoleScaling(Role.ATTENTION, a, inForce(liveAttention, clamp(nominalA, window)), window[0], window[1]);
        } else {
            attention = RoleScaling.fixed(Role.ATTENTION, nominalA);
        }

        RoleScaling experts;
        if (e.isPresent()) {
            int pods = attention.replicas();
            int[] window = within(userE, ceil(pods / band.max()), floor(pods / band.min()), "experts", band, notes);
            experts = new RoleScaling(Role.EXPERTS, e, inForce(liveExperts, clamp(nominalE, window)), window[0], window[1]);
        } else {
            experts = RoleScaling.fixed(Role.EXPERTS, nominalE);
        }
        return new ScalingPlan(attention, experts, band,
                notes.isEmpty() ? Optional.empty() : Optional.of(String.join("; ", notes)));
    }

    /**
     * The band in force: the spec's bounds where given, the default band's otherwise.
     */
    static RatioBand band(RatioBandSpec spec, Topology t) {
        double r0 = (double) t.attention().pods() / t.experts().pods();
        double lo = r0;
        double hi = r0;
        if (t.balanceAttentionPods().isPresent()) {
            double rb = t.balanceAttentionPods().getAsDouble() / t.experts().pods();
            lo = Math.min(lo, rb);
            hi = Math.max(hi, rb);
        }
        lo /= 2;
        hi *= 2;
        if (spec != null && spec.min() != null) {
            lo = spec.min();
            hi = Math.max(hi, lo);
        }
        if (spec != null && spec.max() != null) {
            hi = spec.max();
            lo = Math.min(lo, hi);
        }
        return new RatioBand(lo, hi);
    }

    private static Optional<RoleAutoscalingSpec> enabled(RoleAutoscalingSpec r) {
        return r != null && r.active() ? Optional.of(r) : Optional.empty();
    }

    private static int[] bounds(String field, RoleAutoscalingSpec r) {
        if (r.maxReplicas() == null) {
            throw new InvalidSpecException("InvalidAutoscaling", field + " is enabled but has no maxReplicas");
        }
        if (r.metric() == null || r.target() == null) {
            throw new InvalidSpecException("InvalidAutoscaling", field + " is enabled but has no metric and target");
        }
        int min = r.minReplicasOrDefault();
        if (min < 1 || min > r.maxReplicas()) {
            throw new InvalidSpecException("InvalidAutoscaling", field + ": minReplicas " + min + " must be in 1..maxReplicas ("
                    + r.maxReplicas() + ")");
        }
        return new int[] {min, r.maxReplicas()};
    }

    /**
     * The experts' own bounds, narrowed to the counts the placement can fill: with a fixed
     * {@code replicasPerExpert} c there must be at least c pods and at most experts·c.
     */
    private static int[] expertBounds(RoleAutoscalingSpec r, PlacementSpec placement, int experts) {
        int[] user = bounds("autoscaling.experts", r);
        if (placement != null && placement.experts() != null && !placement.experts().isEmpty()) {
            throw new InvalidSpecException("InvalidAutoscaling",
                    "an explicit placement.experts fixes the expert pod count; remove it to autoscale the experts");
        }
        IntOrString copies = placement == null ? null : placement.replicasPerExpert();
        if (copies == null || copies.getIntVal() == null) {
            return user;
        }
        int c = copies.getIntVal();
        int lo = Math.max(user[0], c);
        int hi = (int) Math.min(user[1], (long) experts * c);
        if (lo > hi) {
            throw new InvalidSpecException("InvalidAutoscaling", "autoscaling.experts " + user[0] + ".." + user[1]
                    + " pods cannot hold " + experts + " experts × " + c + " copies (placement.replicasPerExpert): needs "
                    + c + ".." + ((long) experts * c) + " pods");
        }
        return new int[] {lo, hi};
    }

    /** {@code user} ∩ [lo, hi]; when empty, the user's bound nearest the band, with a note. */
    private static int[] within(int[] user, int lo, int hi, String role, RatioBand band, List<String> notes) {
        int min = Math.max(user[0], lo);
        int max = Math.min(user[1], hi);
        if (min <= max) {
            return new int[] {min, max};
        }
        int pick = lo > user[1] ? user[1] : user[0];
        notes.add("the ratio band " + band + " needs " + Math.max(lo, 0) + ".." + Math.max(hi, 0) + " " + role
                + " pods, outside its minReplicas..maxReplicas " + user[0] + ".." + user[1] + "; holding " + pick);
        return new int[] {pick, pick};
    }

    /** The live count, at least one (a plan needs a pod of each role); the initial count before the StatefulSet exists. */
    private static int inForce(OptionalInt live, int initial) {
        return live.isPresent() ? Math.max(1, live.getAsInt()) : initial;
    }

    private static int clamp(int value, int[] window) {
        return Math.max(window[0], Math.min(window[1], value));
    }

    private static int ceil(double x) {
        return (int) Math.min(Integer.MAX_VALUE, Math.ceil(x - EPS));
    }

    private static int floor(double x) {
        return (int) Math.min(Integer.MAX_VALUE, Math.floor(x + EPS));
    }
}
