package io.shuttle.operator.desired;

import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.shuttle.operator.api.MoEDeployment;

import java.util.Map;

/** Metadata of a child: name, namespace, labels and the controller owner reference. */
final class Owned {
    private Owned() {
    }

    static ObjectMeta meta(MoEDeployment owner, String name, Map<String, String> labels) {
        return new ObjectMetaBuilder()
                .withName(name)
                .withNamespace(owner.getMetadata().getNamespace())
                .withLabels(labels)
                .withOwnerReferences(ownerReference(owner))
                .build();
    }

    /** The garbage collector deletes the child with its MoEDeployment. */
    static OwnerReference ownerReference(MoEDeployment owner) {
        return new OwnerReferenceBuilder()
                .withApiVersion(MoEDeployment.API_VERSION)
                .withKind("MoEDeployment")
                .withName(owner.getMetadata().getName())
                .withUid(owner.getMetadata().getUid())
                .withController(true)
                .withBlockOwnerDeletion(true)
                .build();
    }
}
