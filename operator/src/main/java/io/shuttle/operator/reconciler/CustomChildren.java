package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.shuttle.operator.desired.Names;

import java.net.HttpURLConnection;
import java.util.Optional;

/** Reads and writes of custom children on the API, shared by both {@link ChildStore}s. */
final class CustomChildren {
    private CustomChildren() {
    }

    static Optional<GenericKubernetesResource> get(KubernetesClient client, String namespace, ResourceDefinitionContext kind,
                                                   String name) {
        try {
            return Optional.ofNullable(client.genericKubernetesResources(kind).inNamespace(namespace).withName(name).get());
        } catch (KubernetesClientException e) {
            // 404: the object or the whole API is absent (no KEDA): nothing to read or delete.
            if (e.getCode() == HttpURLConnection.HTTP_NOT_FOUND) {
                return Optional.empty();
            }
            throw e;
        }
    }

    static GenericKubernetesResource create(KubernetesClient client, String namespace, ResourceDefinitionContext kind,
                                            GenericKubernetesResource desired, boolean serverSideApply) {
        var op = client.genericKubernetesResources(kind).inNamespace(namespace).resource(desired);
        return serverSideApply ? op.fieldManager(Names.MANAGED_BY).forceConflicts().serverSideApply() : op.create();
    }

    static GenericKubernetesResource apply(KubernetesClient client, String namespace, ResourceDefinitionContext kind,
                                           GenericKubernetesResource desired, GenericKubernetesResource actual,
                                           boolean serverSideApply) {
        if (!serverSideApply && actual != null) {
            desired.getMetadata().setResourceVersion(actual.getMetadata().getResourceVersion());
        }
        var op = client.genericKubernetesResources(kind).inNamespace(namespace).resource(desired);
        return serverSideApply ? op.fieldManager(Names.MANAGED_BY).forceConflicts().serverSideApply() : op.update();
    }
}
