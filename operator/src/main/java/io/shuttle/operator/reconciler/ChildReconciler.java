package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.desired.ConfigManifests;
import io.shuttle.operator.desired.DesiredState;
import io.shuttle.operator.desired.Names;
import io.shuttle.operator.desired.Topology;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Makes the children match the desired state: creates what is missing, rewrites what drifted,
 * and leaves alone what matches, so an unchanged deployment costs no writes. The M2N Secret is
 * created once and then only read.
 */
public final class ChildReconciler {
    private final SecureRandom random;
    private final Optional<String> hfImage;

    public ChildReconciler(SecureRandom random, Optional<String> hfImage) {
        this.random = random;
        this.hfImage = hfImage;
    }

    /** Returns the names of the children it wrote ("Kind/name"), empty when all matched. */
    public List<String> reconcile(MoEDeployment owner, Topology topology, ChildStore store) {
        List<String> written = new ArrayList<>();
        String secretName = Names.secret(owner.getMetadata().getName());
        Secret secret = store.get(Secret.class, secretName)
                .filter(s -> !"missing".equals(ConfigManifests.secretDigest(s)))
                .orElse(null);
        if (secret == null) {
            Secret fresh = ConfigManifests.m2nSecret(owner, random);
            secret = store.get(Secret.class, secretName).isPresent() ? store.apply(fresh, null) : store.create(fresh);
            written.add("Secret/" + secretName);
        }
        List<HasMetadata> desired = DesiredState.children(owner, topology, ConfigManifests.secretDigest(secret), hfImage);
        for (HasMetadata child : desired) {
            if (write(child, store)) {
                written.add(child.getKind() + "/" + child.getMetadata().getName());
            }
        }
        return written;
    }

    private static <T extends HasMetadata> boolean write(T desired, ChildStore store) {
        @SuppressWarnings("unchecked")
        Class<T> type = (Class<T>) desired.getClass();
        Optional<T> actual = store.get(type, desired.getMetadata().getName());
        if (actual.isEmpty()) {
            store.create(desired);
            return true;
        }
        if (ChildMatcher.matches(desired, actual.get())) {
            return false;
        }
        store.apply(desired, actual.get());
        return true;
    }
}
