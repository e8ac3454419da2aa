package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.shuttle.operator.desired.Names;

import java.util.List;
import java.util.Map;
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
        if (actual != null && desired.getMetadata().getResourceVersion() == null) {
            desired.getMetadata().setResourceVersion(actual.getMetadata().getResourceVersion());
        }
        return client.resource(desired).update();
    }

    @Override
    public <T extends HasMetadata> void delete(Class<T> type, String name) {
        client.resources(type).inNamespace(namespace).withName(name).delete();
    }

    @Override
    public List<Pod> pods(Map<String, String> labels) {
        return client.pods().inNamespace(namespace).withLabels(labels).list().getItems();
    }

    @Override
    public boolean deletePod(Pod pod) {
        return PodWrites.delete(client, pod);
    }

    @Override
    public void record(Event event) {
        PodWrites.record(client, event);
    }

    @Override
    public boolean serves(ResourceDefinitionContext kind) {
        return CustomKinds.served(client, kind);
    }

    @Override
    public Optional<GenericKubernetesResource> getCustom(ResourceDefinitionContext kind, String name) {
        return CustomChildren.get(client, namespace, kind, name);
    }

    @Override
    public GenericKubernetesResource createCustom(ResourceDefinitionContext kind, GenericKubernetesResource desired) {
        return CustomChildren.create(client, namespace, kind, desired, serverSideApply);
    }

    @Override
    public GenericKubernetesResource applyCustom(ResourceDefinitionContext kind, GenericKubernetesResource desired,
                                                 GenericKubernetesResource actual) {
        return CustomChildren.apply(client, namespace, kind, desired, actual, serverSideApply);
    }

    @Override
    public void deleteCustom(ResourceDefinitionContext kind, String name) {
        client.genericKubernetesResources(kind).inNamespace(namespace).withName(name).delete();
    }

    private <T extends HasMetadata> T ssa(T desired) {
        return client.resource(desired).fieldManager(Names.MANAGED_BY).forceConflicts().serverSideApply();
    }
}
