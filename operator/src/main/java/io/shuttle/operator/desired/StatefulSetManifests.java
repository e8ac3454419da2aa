package io.shuttle.operator.desired;

import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.shuttle.operator.api.MoEDeployment;

import java.util.Map;
import java.util.Optional;

/** The StatefulSets {@code <name>-attention} and {@code <name>-experts}. */
public final class StatefulSetManifests {
    private StatefulSetManifests() {
    }

    /**
     * Pods start in parallel: a pool is useful only when all its peers are up, and ordered start
     * would make pod N wait for pod N-1's readiness, which itself waits for its peers.
     */
    public static StatefulSet statefulSet(MoEDeployment owner, Topology topology, Role role, Map<String, String> hashes,
                                          Optional<String> hfImage) {
        String name = owner.getMetadata().getName();
        return new StatefulSetBuilder()
                .withMetadata(Owned.meta(owner, Names.statefulSet(name, role), Names.roleLabels(name, role)))
                .withNewSpec()
                .withReplicas(topology.layout(role).pods())
                .withServiceName(Names.headlessService(name, role))
                .withPodManagementPolicy("Parallel")
                .withNewSelector().withMatchLabels(Names.selector(name, role)).endSelector()
                .withNewUpdateStrategy().withType("RollingUpdate").endUpdateStrategy()
                .withTemplate(PodTemplates.template(owner, topology, role, hashes, hfImage))
                .endSpec()
                .build();
    }
}
