package io.shuttle.e2e.kube;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.shuttle.operator.api.MoEDeployment;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The mock API server has no garbage collector: this one deletes every object of the kinds a
 * MoEDeployment owns (and the pods its StatefulSets own) whose owners are all gone, i.e. no live
 * object of the owner's kind has the referenced uid. Background propagation: one pass deletes
 * the StatefulSets, the next their pods.
 */
final class OwnerGarbageCollector {
    private static final List<Class<? extends HasMetadata>> OWNED = List.of(ConfigMap.class, Secret.class, Service.class,
            StatefulSet.class, PodDisruptionBudget.class, Pod.class);

    private final KubernetesClient client;
    private final String namespace;

    OwnerGarbageCollector(KubernetesClient client, String namespace) {
        this.client = client;
        this.namespace = namespace;
    }

    /** One pass; returns what it deleted ({@code Kind/name}). */
    List<String> collect() {
        Set<String> liveUids = new HashSet<>();
        for (Class<? extends HasMetadata> owner : List.of(MoEDeployment.class, StatefulSet.class)) {
            client.resources(owner).inNamespace(namespace).list().getItems()
                    .forEach(o -> liveUids.add(o.getKind() + "/" + o.getMetadata().getUid()));
        }
        List<String> deleted = new ArrayList<>();
        for (Class<? extends HasMetadata> type : OWNED) {
            for (HasMetadata child : client.resources(type).inNamespace(namespace).list().getItems()) {
                List<OwnerReference> owners = child.getMetadata().getOwnerReferences();
                if (owners == null || owners.isEmpty() || !knownKinds(owners)) {
                    continue;
                }
                boolean orphan = owners.stream().noneMatch(o -> liveUids.contains(o.getKind() + "/" + o.getUid()));
                if (orphan) {
                    try {
                        client.resource(child).inNamespace(namespace).delete();
                        deleted.add(child.getKind() + "/" + child.getMetadata().getName());
                    } catch (KubernetesClientException e) {
                        // gone already or changed meanwhile: the next pass looks again
                    }
                }
            }
        }
        return deleted;
    }

    /** Only owners whose kinds this collector lists; anything else is left alone. */
    private static boolean knownKinds(List<OwnerReference> owners) {
        return owners.stream().allMatch(o -> o.getKind().equals("MoEDeployment") || o.getKind().equals("StatefulSet"));
    }
}
