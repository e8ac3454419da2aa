package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Reads and writes a deployment's children: from JOSDK's caches in the operator, from the API in tests. */
public interface ChildStore {

    /** The live child of that type and name in the deployment's namespace. */
    <T extends HasMetadata> Optional<T> get(Class<T> type, String name);

    /** Creates a child that does not exist yet. */
    <T extends HasMetadata> T create(T desired);

    /**
     * Brings an existing child to the desired content (server-side apply, or an update in tests).
     * A {@code resourceVersion} set on {@code desired} is a precondition in both modes.
     */
    <T extends HasMetadata> T apply(T desired, T actual);

    /** Deletes a child (absent already is fine). */
    <T extends HasMetadata> void delete(Class<T> type, String name);

    /** The pods in the deployment's namespace that carry every one of {@code labels}. */
    List<Pod> pods(Map<String, String> labels);

    /**
     * Deletes this incarnation of a pod. The delete carries the pod's resourceVersion as a
     * precondition, so a pod re-created under the same name (StatefulSet pods reuse names) or
     * changed since it was read is left alone.
     *
     * @return whether it was deleted; false when it is gone or changed (the next reconcile looks again)
     */
    boolean deletePod(Pod pod);

    /** Records a Kubernetes Event (for people: {@code kubectl describe}, {@code kubectl get events}). */
    void record(Event event);

    /**
     * Whether the cluster serves a kind the operator has no Java class for (KEDA's ScaledObject).
     * Children of such kinds are read and written on the API directly, not through a cache.
     */
    boolean serves(ResourceDefinitionContext kind);

    /** The live custom child, empty when absent or when the cluster does not serve the kind. */
    Optional<GenericKubernetesResource> getCustom(ResourceDefinitionContext kind, String name);

    GenericKubernetesResource createCustom(ResourceDefinitionContext kind, GenericKubernetesResource desired);

    GenericKubernetesResource applyCustom(ResourceDefinitionContext kind, GenericKubernetesResource desired,
                                          GenericKubernetesResource actual);

    void deleteCustom(ResourceDefinitionContext kind, String name);
}
