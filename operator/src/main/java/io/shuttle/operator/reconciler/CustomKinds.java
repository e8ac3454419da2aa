package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.APIResourceList;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.shuttle.operator.desired.AutoscalerManifests;

/** Kinds without Java classes on the classpath, and how to ask whether a cluster serves them. */
final class CustomKinds {
    /** KEDA's ScaledObject; the plural is given, so no discovery is needed to read or write one. */
    static final ResourceDefinitionContext SCALED_OBJECTS = new ResourceDefinitionContext.Builder()
            .withGroup("keda.sh").withVersion("v1alpha1").withKind(AutoscalerManifests.SCALED_OBJECT_KIND)
            .withPlural("scaledobjects").withNamespaced(true).build();

    private CustomKinds() {
    }

    /** Discovery: does {@code /apis/GROUP/VERSION} list the kind's plural? */
    static boolean served(KubernetesClient client, ResourceDefinitionContext kind) {
        APIResourceList list = client.getApiResources(kind.getGroup() + "/" + kind.getVersion());
        return list != null && list.getResources() != null
                && list.getResources().stream().anyMatch(r -> kind.getPlural().equals(r.getName()));
    }
}
