package io.shuttle.operator.desired;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.api.RoleAutoscalingSpec;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Spec + topology (+ scaling) → every child except the Secret (created once, see
 * {@link ConfigManifests#m2nSecret}), in the order they are applied: configuration first, then
 * Services, then the StatefulSets that need both, then the PDBs, then the autoscalers that target
 * the StatefulSets.
 */
public final class DesiredState {
    private DesiredState() {
    }

    /** The children before any StatefulSet exists: autoscaled pools start at their initial counts. */
    public static List<HasMetadata> children(MoEDeployment owner, Topology topology, String secretDigest,
                                             Optional<String> hfImage) {
        ScalingPlan scaling = ScalingResolver.resolve(owner.getSpec(), topology, OptionalInt.empty(), OptionalInt.empty());
        return children(owner, TopologyResolver.resized(topology, owner.getSpec().placement(),
                scaling.attention().replicas(), scaling.experts().replicas()), secretDigest, hfImage, scaling);
    }

    /**
     * @param owner        the deployment (name, namespace, uid, spec)
     * @param topology     resolved from the spec, with the pod counts in force ({@link ScalingPlan})
     * @param secretDigest {@link ConfigManifests#secretDigest} of the M2N Secret in force
     * @param hfImage      downloader image for hf:// models, if configured
     * @param scaling      each pool's size and autoscaler
     */
    public static List<HasMetadata> children(MoEDeployment owner, Topology topology, String secretDigest,
                                             Optional<String> hfImage, ScalingPlan scaling) {
        String name = owner.getMetadata().getName();
        if (name.length() > Names.MAX_NAME_LENGTH) {
            throw new InvalidSpecException("NameTooLong", "the name '" + name + "' has " + name.length()
                    + " characters; pod names and their revision labels need it to be at most " + Names.MAX_NAME_LENGTH);
        }
        Ports ports = Ports.of(owner.getSpec());
        ObjectNode plan = ServingPlanJson.tree(name, owner.getMetadata().getNamespace(), topology,
                ports.attentionM2n(), ports.expertM2n());
        // The ConfigMap comes before the StatefulSets: a pod that a scale-out adds must find
        // itself in the plan when it starts.
        List<HasMetadata> children = new ArrayList<>(List.of(
                ConfigManifests.configMap(owner, topology, ServingPlanJson.write(plan)),
                ServiceManifests.headless(owner, Role.ATTENTION, ports),
                ServiceManifests.headless(owner, Role.EXPERTS, ports),
                ServiceManifests.client(owner, ports),
                StatefulSetManifests.statefulSet(owner, topology, Role.ATTENTION, hashes(plan, Role.ATTENTION, secretDigest),
                        hfImage, kept(scaling.attention())),
                StatefulSetManifests.statefulSet(owner, topology, Role.EXPERTS, hashes(plan, Role.EXPERTS, secretDigest),
                        hfImage, kept(scaling.experts())),
                PdbManifests.pdb(owner, Role.ATTENTION),
                PdbManifests.pdb(owner, Role.EXPERTS)));
        for (RoleScaling role : List.of(scaling.attention(), scaling.experts())) {
            role.autoscaler().ifPresent(a -> children.add(a.providerOrDefault() == RoleAutoscalingSpec.Provider.KEDA
                    ? AutoscalerManifests.scaledObject(owner, role) : AutoscalerManifests.hpa(owner, role)));
        }
        return List.copyOf(children);
    }

    /**
     * The pod template's annotations that restart the role's pods: the plan hash over only what
     * they cannot read live ({@link PlanHashes}), and the M2N Secret's digest.
     */
    private static Map<String, String> hashes(JsonNode plan, Role role, String secretDigest) {
        Map<String, String> hashes = new LinkedHashMap<>();
        hashes.put(Names.ANNOTATION_PLAN_HASH, PlanHashes.of(plan, role));
        hashes.put(Names.ANNOTATION_SECRET_HASH, secretDigest);
        return hashes;
    }

    /** The count the operator keeps, or none when an autoscaler owns it. */
    private static OptionalInt kept(RoleScaling role) {
        return role.autoscaled() ? OptionalInt.empty() : OptionalInt.of(role.replicas());
    }
}
