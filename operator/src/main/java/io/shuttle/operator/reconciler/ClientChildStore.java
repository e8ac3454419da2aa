package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.shuttle.operator.desired.Names;

import java.util.Optional;

/** A {@link ChildStore} straight on the API server (no cache): for tests and one-off tools. */
public final class ClientChildStore implements ChildStore {
    private final KubernetesClient client;
    private final String namespace;
    private final boolean serverSideApply;

    public ClientChildStore(KubernetesClient client, String namespace, boolean serverSideApply) {
        this.client = client;
        this.namespace = namespace;
        this.serverSideApply = serverSideApply;
    }

    @Override
    public <T extends HasMetadata> Optional<T> get(Class<T> type, String name) {
        return Optional.ofNullable(client.resources(type).inNamespace(namespace).withName(name).get());
    }

    @Override
    public <T extends HasMetadata> T create(T desired) {
        return serverSideApply ? ssa(desired) : client.resource(desired).create();
    }

    @Override
    public <T extends HasMetadata> T apply(T desired, T actual) {
        if (serverSideApply) {
            return ssa(desired);
        }
        if (actual != null) {
            desired.getMetadata().setResourceVersion(actual.getMetadata().getResourceVersion());
        }
        return client.resource(desired).update();
    }

    private <T extends HasMetadata> T ssa(T desired) {
        return client.resource(desired).fieldManager(Names.MANAGED_BY).forceConflicts().serverSideApply();
    }
}
