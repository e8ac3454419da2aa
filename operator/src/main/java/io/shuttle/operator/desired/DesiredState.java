package io.shuttle.operator.desired;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.shuttle.operator.api.MoEDeployment;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Spec + topology → every child except the Secret (created once, see
 * {@link ConfigManifests#m2nSecret}), in the order they are applied: configuration first, then
 * Services, then the StatefulSets that need both, then the PDBs.
 */
public final class DesiredState {
    private DesiredState() {
    }

    /**
     * @param owner        the deployment (name, namespace, uid, spec)
     * @param topology     resolved from the spec
     * @param secretDigest {@link ConfigManifests#secretDigest} of the M2N Secret in force
     * @param hfImage      downloader image for hf:// models, if configured
     */
    public static List<HasMetadata> children(MoEDeployment owner, Topology topology, String secretDigest,
                                             Optional<String> hfImage) {
        String name = owner.getMetadata().getName();
        if (name.length() > Names.MAX_NAME_LENGTH) {
            throw new InvalidSpecException("NameTooLong", "the name '" + name + "' has " + name.length()
                    + " characters; pod names and their revision labels need it to be at most " + Names.MAX_NAME_LENGTH);
        }
        Ports ports = Ports.of(owner.getSpec());
        String planJson = ServingPlanJson.of(name, owner.getMetadata().getNamespace(), topology,
                ports.attentionM2n(), ports.expertM2n());
        Map<String, String> hashes = new LinkedHashMap<>();
        // Every pod reads the plan once at start, so a new plan must restart both pools.
        hashes.put(Names.ANNOTATION_PLAN_HASH, ConfigManifests.sha256(planJson).substring(0, 16));
        hashes.put(Names.ANNOTATION_SECRET_HASH, secretDigest);
        return List.of(
                ConfigManifests.configMap(owner, topology, planJson),
                ServiceManifests.headless(owner, Role.ATTENTION, ports),
                ServiceManifests.headless(owner, Role.EXPERTS, ports),
                ServiceManifests.client(owner, ports),
                StatefulSetManifests.statefulSet(owner, topology, Role.ATTENTION, hashes, hfImage),
                StatefulSetManifests.statefulSet(owner, topology, Role.EXPERTS, hashes, hfImage),
                PdbManifests.pdb(owner, Role.ATTENTION),
                PdbManifests.pdb(owner, Role.EXPERTS));
    }
}
