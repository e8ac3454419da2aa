package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetStatus;
import io.fabric8.kubernetes.api.model.apps.StatefulSetUpdateStrategy;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.desired.Names;
import io.shuttle.operator.desired.Role;

import java.lang.System.Logger.Level;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Restarts the whole expert pool at once when its pod template changed, instead of letting the
 * StatefulSet controller roll it one pod at a time.
 *
 * <p>Why: the expert pool has no redundancy during a placement change. Attention pods retry their
 * steps until every expert pod runs the new placement, so with a one-by-one roll decoding pauses
 * for the <em>sum</em> of the expert pods' start times (weights load for minutes on big models);
 * deleting every outdated pod at once makes it the <em>maximum</em>. The StatefulSet controller
 * re-creates deleted pods at the update revision, all together under the {@code Parallel} policy.
 * Attention pods keep the controller's one-by-one roll: the others serve meanwhile.
 *
 * <p>Idempotent: every reconcile deletes the expert pods that are neither on the update revision
 * nor terminating, so pods already re-created are left alone and an operator that crashed
 * half-way finishes the job on its next reconcile. A plain delete, not an eviction: the expert
 * PDB guards voluntary disruptions one pod at a time, and this restart is deliberate.
 */
public final class ExpertPoolRestart {
    public static final String REASON = "RestartingExpertPool";
    static final String REVISION_LABEL = "controller-revision-hash";
    private static final System.Logger LOG = System.getLogger(ExpertPoolRestart.class.getName());

    private final boolean enabled;
    private final Clock clock;

    /**
     * @param enabled {@code shuttle.operator.experts-restart-together}; off, the controller's
     *                one-by-one roll is left to run
     * @param clock   for the Events' timestamps
     */
    public ExpertPoolRestart(boolean enabled, Clock clock) {
        this.enabled = enabled;
        this.clock = clock;
    }

    /**
     * Deletes the expert pods of {@code owner} that are not on the experts StatefulSet's update
     * revision. Call after the StatefulSets were written.
     *
     * @return the names of the pods deleted (empty: no roll, or nothing left to restart)
     */
    public List<String> restart(MoEDeployment owner, ChildStore store) {
        if (!enabled) {
            return List.of();
        }
        String setName = Names.statefulSet(owner.getMetadata().getName(), Role.EXPERTS);
        Optional<StatefulSet> set = store.get(StatefulSet.class, setName);
        Optional<String> target = set.flatMap(ExpertPoolRestart::rollingTo);
        if (target.isEmpty()) {
            return List.of();
        }
        Map<String, String> selector = set.get().getSpec().getSelector().getMatchLabels();
        List<Pod> old = outdated(set.get(), target.get(), store.pods(selector));
        List<String> deleted = new ArrayList<>();
        TreeSet<String> from = new TreeSet<>();
        for (Pod pod : old) {
            if (store.deletePod(pod)) {
                deleted.add(pod.getMetadata().getName());
                from.add(String.valueOf(revision(pod)));
            }
        }
        if (!deleted.isEmpty()) {
            String message = "Deleted " + deleted.size() + " expert pod(s) " + String.join(", ", deleted) + " (revision "
                    + String.join(", ", from) + ") so that " + setName + " restarts together at revision " + target.get()
                    + " instead of one pod at a time";
            LOG.log(Level.INFO, () -> owner.getMetadata().getNamespace() + "/" + owner.getMetadata().getName() + ": "
                    + REASON + ": " + message);
            try {
                store.record(event(owner, REASON, message, clock.instant()));
            } catch (KubernetesClientException e) {
                // The Event is for people; the restart itself has happened and must not be retried for it.
                LOG.log(Level.WARNING, "cannot record Event " + REASON + " for " + owner.getMetadata().getName()
                        + " (RBAC needs create on events): " + e.getMessage());
            }
        }
        return List.copyOf(deleted);
    }

    /**
     * The revision a StatefulSet is rolling its pods to, when its controller has seen the latest
     * template (status.observedGeneration caught up): before that, status.updateRevision is the
     * previous template's and pods would be restarted to a revision that is already stale (the
     * controller's status write is a StatefulSet event, so the next reconcile comes by itself).
     * Empty also when the set pins part of its pods with a partition (someone stages a roll by
     * hand; pods below it would come back on the old revision and be deleted again) or has no
     * label selector (it would select every pod).
     */
    static Optional<String> rollingTo(StatefulSet set) {
        StatefulSetStatus status = set.getStatus();
        if (status == null || status.getUpdateRevision() == null || status.getUpdateRevision().isBlank()) {
            return Optional.empty();
        }
        Long generation = set.getMetadata().getGeneration();
        if (generation != null && (status.getObservedGeneration() == null || status.getObservedGeneration() < generation)) {
            return Optional.empty();
        }
        if (set.getSpec().getSelector() == null || set.getSpec().getSelector().getMatchLabels() == null
                || set.getSpec().getSelector().getMatchLabels().isEmpty()) {
            return Optional.empty();
        }
        StatefulSetUpdateStrategy strategy = set.getSpec().getUpdateStrategy();
        if (strategy != null && strategy.getRollingUpdate() != null && strategy.getRollingUpdate().getPartition() != null
                && strategy.getRollingUpdate().getPartition() > 0) {
            return Optional.empty();
        }
        return Optional.of(status.getUpdateRevision());
    }

    /**
     * The pods to restart: controlled by {@code set}, not terminating, and labelled with another
     * revision than {@code target} (the controller compares the same label).
     */
    static List<Pod> outdated(StatefulSet set, String target, List<Pod> pods) {
        return pods.stream()
                .filter(p -> controlledBy(p, set))
                .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
                .filter(p -> !target.equals(revision(p)))
                .toList();
    }

    private static String revision(Pod pod) {
        Map<String, String> labels = pod.getMetadata().getLabels();
        return labels == null ? null : labels.get(REVISION_LABEL);
    }

    /** Never a pod of another controller that happens to match the labels. */
    private static boolean controlledBy(Pod pod, StatefulSet set) {
        List<OwnerReference> refs = pod.getMetadata().getOwnerReferences();
        if (refs == null) {
            return false;
        }
        return refs.stream().anyMatch(r -> Boolean.TRUE.equals(r.getController()) && "StatefulSet".equals(r.getKind())
                && set.getMetadata().getName().equals(r.getName())
                && (set.getMetadata().getUid() == null || Objects.equals(set.getMetadata().getUid(), r.getUid())));
    }

    /** A core/v1 Event about {@code owner}, named as client-go names them ({@code <object>.<unique hex>}). */
    static Event event(MoEDeployment owner, String reason, String message, Instant now) {
        String time = now.truncatedTo(ChronoUnit.SECONDS).toString();
        long nanos = now.getEpochSecond() * 1_000_000_000L + now.getNano();
        return new EventBuilder()
                .withNewMetadata().withName(owner.getMetadata().getName() + "." + Long.toHexString(nanos))
                .withNamespace(owner.getMetadata().getNamespace()).endMetadata()
                .withNewInvolvedObject().withApiVersion(owner.getApiVersion()).withKind(owner.getKind())
                .withName(owner.getMetadata().getName()).withNamespace(owner.getMetadata().getNamespace())
                .withUid(owner.getMetadata().getUid()).endInvolvedObject()
                .withType("Normal").withReason(reason).withMessage(message)
                .withNewSource().withComponent(Names.MANAGED_BY).endSource()
                .withReportingComponent(Names.MANAGED_BY)
                .withFirstTimestamp(time).withLastTimestamp(time).withCount(1)
                .build();
    }
}
