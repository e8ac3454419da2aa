package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.shuttle.operator.api.AutoscalingStatus;
import io.shuttle.operator.api.RoleAutoscalingStatus;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.api.MoEDeploymentStatus;
import io.shuttle.operator.api.PlanStatus;
import io.shuttle.operator.api.RoleStatus;
import io.shuttle.operator.desired.RoleScaling;
import io.shuttle.operator.desired.ScalingPlan;
import io.shuttle.operator.desired.Topology;
import io.shuttle.operator.planner.DeploymentPlan;

import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Everything the reconciler learnt → one status. Pure: the same inputs give an equal status, and
 * a condition keeps its {@code lastTransitionTime} until its status flips, so a steady
 * deployment's status never changes and is never written.
 */
public final class StatusAggregator {
    public static final String PLANNED = "Planned";
    public static final String READY = "Ready";
    public static final String PROGRESSING = "Progressing";
    public static final String DEGRADED = "Degraded";

    /** What reconciling the spec came to. */
    public sealed interface Outcome {
        /** The children are in place for this topology. */
        record Applied(Topology topology, String endpoint, ScalingPlan scaling) implements Outcome {
        }

        /** The spec was refused; nothing was changed. */
        record Rejected(String reason, String message) implements Outcome {
        }
    }

    /** The live objects the status is read from. */
    public record Observed(Optional<StatefulSet> attention, Optional<StatefulSet> experts, List<Pod> pods,
                           Optional<HorizontalPodAutoscaler> attentionHpa, Optional<HorizontalPodAutoscaler> expertsHpa) {
    }

    private StatusAggregator() {
    }

    public static MoEDeploymentStatus status(MoEDeployment owner, Outcome outcome, Observed observed, Instant now) {
        MoEDeploymentStatus old = owner.getStatus();
        long generation = Optional.ofNullable(owner.getMetadata().getGeneration()).orElse(0L);
        RoleStatus attention = role(observed.attention());
        RoleStatus experts = role(observed.experts());
        List<Condition> conditions = new ArrayList<>();
        PlanStatus plan;
        String endpoint;
        String phase;
        AutoscalingStatus autoscaling;
        if (outcome instanceof Outcome.Rejected r) {
            plan = old == null ? null : old.plan();
            endpoint = old == null ? null : old.endpoint();
            autoscaling = old == null ? null : old.autoscaling();
            conditions.add(condition(PLANNED, false, r.reason(), r.message()));
            conditions.add(condition(DEGRADED, true, "InvalidSpec", r.reason() + ": " + r.message()));
            conditions.add(condition(READY, attention.desired() > 0 && isReady(attention) && isReady(experts),
                    "SpecRejected", "the last accepted spec keeps running; fix the spec"));
            conditions.add(condition(PROGRESSING, false, "SpecRejected", "no change is rolled out while the spec is invalid"));
            phase = "Invalid";
        } else {
            Outcome.Applied a = (Outcome.Applied) outcome;
            plan = plan(a.topology());
            endpoint = a.endpoint();
            autoscaling = autoscaling(a.scaling(), observed);
            conditions.add(condition(PLANNED, true, a.topology().planned().isPresent() ? "PlannerChose" : "ManualPlan",
                    summary(plan)));
            boolean ready = isReady(attention) && isReady(experts) && observed.attention().isPresent()
                    && observed.experts().isPresent();
            boolean rolling = rolling(observed.attention(), attention) || rolling(observed.experts(), experts);
            Optional<PodDiagnosis.Problem> problem = PodDiagnosis.worst(observed.pods());
            String counts = "attention " + attention.ready() + "/" + attention.desired() + ", experts " + experts.ready()
                    + "/" + experts.desired() + " ready";
            conditions.add(condition(READY, ready, ready ? "AllPodsReady" : "PodsNotReady", counts));
            conditions.add(rolling
                    ? condition(PROGRESSING, true, "RollingOut", "updated: attention " + attention.updated() + "/"
                    + attention.desired() + ", experts " + experts.updated() + "/" + experts.desired())
                    : condition(PROGRESSING, !ready, ready ? "RolloutComplete" : "PodsStarting", counts));
            conditions.add(problem.map(p -> condition(DEGRADED, true, p.reason(), p.message()))
                    .orElseGet(() -> condition(DEGRADED, false, "AsExpected", "no pod problems seen")));
            phase = problem.isPresent() ? "Degraded" : ready && !rolling ? "Ready" : "Progressing";
        }
        conditions = keepTransitionTimes(conditions, old, generation, now);
        return new MoEDeploymentStatus(generation, phase, conditions, attention, experts, plan, endpoint,
                attention.ready() + "/" + attention.desired(), experts.ready() + "/" + experts.desired(), summary(plan),
                autoscaling);
    }

    /** The autoscalers in force with their bounds, and the HPA's view of current and desired pods. */
    static AutoscalingStatus autoscaling(ScalingPlan scaling, Observed observed) {
        if (!scaling.anyAutoscaled()) {
            return null;
        }
        return new AutoscalingStatus(
                autoscaler(scaling.attention(), observed.attentionHpa(), observed.attention()),
                autoscaler(scaling.experts(), observed.expertsHpa(), observed.experts()),
                scaling.band().toString(), scaling.note().orElse(null));
    }

    private static RoleAutoscalingStatus autoscaler(RoleScaling role, Optional<HorizontalPodAutoscaler> hpa,
                                                    Optional<StatefulSet> set) {
        if (!role.autoscaled()) {
            return null;
        }
        Integer current = null;
        Integer desired = null;
        var hpaStatus = hpa.map(HorizontalPodAutoscaler::getStatus);
        if (hpaStatus.isPresent()) {
            current = hpaStatus.get().getCurrentReplicas();
            desired = hpaStatus.get().getDesiredReplicas();
        } else if (set.isPresent()) {
            // KEDA's own HPA is not watched; the StatefulSet shows what it last decided.
            current = set.get().getStatus() == null ? null : set.get().getStatus().getReplicas();
            desired = set.get().getSpec().getReplicas();
        }
        String provider = role.autoscaler().orElseThrow().providerOrDefault().name().toLowerCase(java.util.Locale.ROOT);
        return new RoleAutoscalingStatus(provider, role.minReplicas(), role.maxReplicas(), current, desired);
    }

    private static RoleStatus role(Optional<StatefulSet> set) {
        if (set.isEmpty()) {
            return new RoleStatus(0, 0, 0);
        }
        StatefulSet s = set.get();
        int desired = Optional.ofNullable(s.getSpec().getReplicas()).orElse(1);
        if (s.getStatus() == null) {
            return new RoleStatus(desired, 0, 0);
        }
        return new RoleStatus(desired, Optional.ofNullable(s.getStatus().getReadyReplicas()).orElse(0),
                Optional.ofNullable(s.getStatus().getUpdatedReplicas()).orElse(0));
    }

    private static boolean isReady(RoleStatus r) {
        return r.desired() > 0 && r.ready() >= r.desired();
    }

    /** A template change is being rolled out: not all pods are on the new revision yet. */
    private static boolean rolling(Optional<StatefulSet> set, RoleStatus r) {
        if (set.isEmpty() || set.get().getStatus() == null) {
            return false;
        }
        var st = set.get().getStatus();
        boolean revisions = st.getUpdateRevision() != null && !Objects.equals(st.getUpdateRevision(), st.getCurrentRevision());
        boolean stale = st.getObservedGeneration() != null && st.getObservedGeneration() < set.get().getMetadata().getGeneration();
        return revisions || stale || r.updated() < r.desired();
    }

    static PlanStatus plan(Topology t) {
        Optional<DeploymentPlan> p = t.planned();
        return new PlanStatus(p.isPresent() ? "planner" : "spec",
                new PlanStatus.RolePlanStatus(t.attention().gpuType().orElse(null), t.attention().gpusPerPod(), t.attention().pods()),
                new PlanStatus.RolePlanStatus(t.experts().gpuType().orElse(null), t.experts().gpusPerPod(), t.experts().pods()),
                t.pipeline().microBatches(), t.pipeline().maxBatchTokens(),
                p.map(x -> round(x.tbtMs())).orElse(null), p.map(x -> round(x.tokensPerS())).orElse(null),
                p.map(x -> round(x.costPerHour())).orElse(null),
                t.placement().stream().map(List::size).toList());
    }

    private static double round(double v) {
        return Math.round(v * 100.0) / 100.0;
    }

    /** "H20×4 tp2 / L40S×8 tp1, m=3" or "cpu×1 / cpu×2, m=2" */
    static String summary(PlanStatus p) {
        if (p == null) {
            return null;
        }
        return role(p.attention()) + " / " + role(p.experts()) + ", m=" + p.microBatches();
    }

    private static String role(PlanStatus.RolePlanStatus r) {
        String gpu = r.tp() == 0 ? "cpu" : r.gpu() == null ? "gpu" : r.gpu();
        return gpu + "×" + r.pods() + (r.tp() > 0 ? " tp" + r.tp() : "");
    }

    private static Condition condition(String type, boolean status, String reason, String message) {
        return new ConditionBuilder().withType(type).withStatus(status ? "True" : "False").withReason(reason)
                .withMessage(message).build();
    }

    private static List<Condition> keepTransitionTimes(List<Condition> fresh, MoEDeploymentStatus old, long generation,
                                                       Instant now) {
        List<Condition> out = new ArrayList<>();
        String stamp = now.truncatedTo(ChronoUnit.SECONDS).toString();
        for (Condition c : fresh) {
            Optional<Condition> before = old == null || old.conditions() == null ? Optional.empty()
                    : old.conditions().stream().filter(o -> c.getType().equals(o.getType())).findFirst();
            String time = before.filter(b -> Objects.equals(b.getStatus(), c.getStatus()))
                    .map(Condition::getLastTransitionTime).orElse(stamp);
            c.setLastTransitionTime(time);
            c.setObservedGeneration(generation);
            out.add(c);
        }
        return out;
    }
}
