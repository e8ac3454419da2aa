package io.shuttle.operator.desired;

import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.shuttle.operator.api.MoEDeployment;

import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/** The StatefulSets {@code <name>-attention} and {@code <name>-experts}. */
public final class StatefulSetManifests {
    private StatefulSetManifests() {
    }

    /**
     * Pods start in parallel: a pool is useful only when all its peers are up, and ordered start
     * would make pod N wait for pod N-1's readiness, which itself waits for its peers.
     *
     * @param replicas the pod count the operator keeps, or empty when an autoscaler owns it: the
     *                 desired object then says nothing about replicas, so {@code ChildMatcher}
     *                 never sees the autoscaler's count as drift (see {@link #forWrite})
     */
    public static StatefulSet statefulSet(MoEDeployment owner, Topology topology, Role role, Map<String, String> hashes,
                                          Optional<String> hfImage, OptionalInt replicas) {
        String name = owner.getMetadata().getName();
        return new StatefulSetBuilder()
                .withMetadata(Owned.meta(owner, Names.statefulSet(name, role), Names.roleLabels(name, role)))
                .withNewSpec()
                .withReplicas(replicas.isPresent() ? replicas.getAsInt() : null)
                .withServiceName(Names.headlessService(name, role))
                .withPodManagementPolicy("Parallel")
                .withNewSelector().withMatchLabels(Names.selector(name, role)).endSelector()
                .withNewUpdateStrategy().withType("RollingUpdate").endUpdateStrategy()
                .withTemplate(PodTemplates.template(owner, topology, role, hashes, hfImage))
                .endSpec()
                .build();
    }

    /**
     * What to send when a StatefulSet must be written. A desired object with replicas (no
     * autoscaler) goes as it is. One without (an autoscaler owns the count) is sent with the
     * <em>live</em> count and the live {@code resourceVersion}: an update must carry a count (left
     * out, the API server would reset it to 1, and server-side apply would drop the field), and the
     * resourceVersion makes it a precondition — if the autoscaler scaled after the operator read
     * the object, the write fails with 409 Conflict and the next reconcile starts from the new
     * count. So the value is never changed by the operator. Before the StatefulSet exists,
     * {@code initialReplicas} (the autoscaler's bounds applied to the plan) is used.
     */
    public static StatefulSet forWrite(StatefulSet desired, Optional<StatefulSet> live, int initialReplicas) {
        if (desired.getSpec().getReplicas() != null) {
            return desired;
        }
        StatefulSetBuilder b = new StatefulSetBuilder(desired);
        if (live.isPresent()) {
            Integer count = live.get().getSpec() == null ? null : live.get().getSpec().getReplicas();
            b.editSpec().withReplicas(count == null ? initialReplicas : count).endSpec()
                    .editMetadata().withResourceVersion(live.get().getMetadata().getResourceVersion()).endMetadata();
        } else {
            b.editSpec().withReplicas(initialReplicas).endSpec();
        }
        return b.build();
    }
}
