package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.shuttle.operator.api.MoEDeployment;

import java.net.HttpURLConnection;
import java.util.Objects;
import java.util.Optional;

/**
 * A {@link ChildStore} on JOSDK's informer caches. Writes go through
 * {@code context.resourceOperations()}, which puts the answer into the cache, so the next
 * reconcile sees its own writes instead of re-applying them.
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
        if (actual != null) {
            desired.getMetadata().setResourceVersion(actual.getMetadata().getResourceVersion());
        }
        return context.resourceOperations().update(desired);
    }
}
