package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.shuttle.operator.api.MoEDeployment;

import java.net.HttpURLConnection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A {@link ChildStore} on JOSDK's informer caches. Writes go through
 * {@code context.resourceOperations()}, which puts the answer into the cache, so the next
 * reconcile sees its own writes instead of re-applying them. Custom kinds (KEDA's ScaledObject)
 * have no informer, since the kind may not exist on the cluster: they are read on the API.
 */
final class ContextChildStore implements ChildStore {
    private final Context<MoEDeployment> context;
    private final String namespace;
    private final boolean serverSideApply;

    ContextChildStore(Context<MoEDeployment> context, String namespace, boolean serverSideApply) {
        this.context = context;
        this.namespace = namespace;
        this.serverSideApply = serverSideApply;
    }

    @Override
    public <T extends HasMetadata> Optional<T> get(Class<T> type, String name) {
        return context.getSecondaryResourcesAsStream(type)
                .filter(r -> name.equals(r.getMetadata().getName()) && Objects.equals(namespace, r.getMetadata().getNamespace()))
                .findFirst();
    }

    @Override
    public <T extends HasMetadata> T create(T desired) {
        if (serverSideApply) {
            return context.resourceOperations().serverSideApply(desired);
        }
        try {
            return context.resourceOperations().create(desired);
        } catch (KubernetesClientException e) {
            if (e.getCode() != HttpURLConnection.HTTP_CONFLICT) {
                throw e;
            }
            // The cache had not seen it yet; the next reconcile compares against the live object.
            return desired;
        }
    }

    @Override
    public <T extends HasMetadata> T apply(T desired, T actual) {
        if (serverSideApply) {
            return context.resourceOperations().serverSideApply(desired);
        }
        if (actual != null && desired.getMetadata().getResourceVersion() == null) {
            desired.getMetadata().setResourceVersion(actual.getMetadata().getResourceVersion());
        }
        return context.resourceOperations().update(desired);
    }

    @Override
    public <T extends HasMetadata> void delete(Class<T> type, String name) {
        context.getClient().resources(type).inNamespace(namespace).withName(name).delete();
    }

    /** From the pod informer's cache (pods of this deployment); a stale entry is caught by {@link #deletePod}'s precondition. */
    @Override
    public List<Pod> pods(Map<String, String> labels) {
        return context.getSecondaryResourcesAsStream(Pod.class)
                .filter(p -> Objects.equals(namespace, p.getMetadata().getNamespace()))
                .filter(p -> p.getMetadata().getLabels() != null
                        && p.getMetadata().getLabels().entrySet().containsAll(labels.entrySet()))
                .toList();
    }

    @Override
    public boolean deletePod(Pod pod) {
        return PodWrites.delete(context.getClient(), pod);
    }

    @Override
    public void record(Event event) {
        PodWrites.record(context.getClient(), event);
    }

    @Override
    public boolean serves(ResourceDefinitionContext kind) {
        return CustomKinds.served(context.getClient(), kind);
    }

    @Override
    public Optional<GenericKubernetesResource> getCustom(ResourceDefinitionContext kind, String name) {
        return CustomChildren.get(context.getClient(), namespace, kind, name);
    }

    @Override
    public GenericKubernetesResource createCustom(ResourceDefinitionContext kind, GenericKubernetesResource desired) {
        return CustomChildren.create(context.getClient(), namespace, kind, desired, serverSideApply);
    }

    @Override
    public GenericKubernetesResource applyCustom(ResourceDefinitionContext kind, GenericKubernetesResource desired,
                                                 GenericKubernetesResource actual) {
        return CustomChildren.apply(context.getClient(), namespace, kind, desired, actual, serverSideApply);
    }

    @Override
    public void deleteCustom(ResourceDefinitionContext kind, String name) {
        context.getClient().genericKubernetesResources(kind).inNamespace(namespace).withName(name).delete();
    }
}
