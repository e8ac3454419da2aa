package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.api.RoleAutoscalingSpec;
import io.shuttle.operator.desired.ConfigManifests;
import io.shuttle.operator.desired.DesiredState;
import io.shuttle.operator.desired.InvalidSpecException;
import io.shuttle.operator.desired.Names;
import io.shuttle.operator.desired.Role;
import io.shuttle.operator.desired.RoleScaling;
import io.shuttle.operator.desired.ScalingPlan;
import io.shuttle.operator.desired.ScalingResolver;
import io.shuttle.operator.desired.StatefulSetManifests;
import io.shuttle.operator.desired.Topology;
import io.shuttle.operator.desired.TopologyResolver;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Makes the children match the desired state: creates what is missing, rewrites what drifted,
 * and leaves alone what matches, so an unchanged deployment costs no writes. The M2N Secret is
 * created once and then only read.
 *
 * <p>Autoscaled pools: the live StatefulSets' replicas are read first and become the pod counts
 * in force (plan file, placement, the follower's bounds; {@link ScalingResolver}), so an
 * autoscaler's choice flows into the plan instead of being reverted. Autoscalers no longer wanted
 * (disabled, or the other provider) are deleted before anything else is written: two autoscalers
 * on one StatefulSet would be two writers of its replicas.
 */
public final class ChildReconciler {
    private final SecureRandom random;
    private final Optional<String> hfImage;
    private final ExpertPoolRestart expertRestart;

    /**
     * What a reconcile did and decided.
     *
     * @param written  children written ("Kind/name"; "-Kind/name" for a deletion, expert pods
     *                 restarted included), empty when all matched
     * @param topology the deployment with the pod counts in force
     * @param scaling  each pool's size and autoscaler bounds
     */
    public record Result(List<String> written, Topology topology, ScalingPlan scaling) {
    }

    public ChildReconciler(SecureRandom random, Optional<String> hfImage, ExpertPoolRestart expertRestart) {
        this.random = random;
        this.hfImage = hfImage;
        this.expertRestart = expertRestart;
    }

    public Result reconcile(MoEDeployment owner, Topology planned, ChildStore store) {
        String name = owner.getMetadata().getName();
        Optional<StatefulSet> liveAttention = store.get(StatefulSet.class, Names.statefulSet(name, Role.ATTENTION));
        Optional<StatefulSet> liveExperts = store.get(StatefulSet.class, Names.statefulSet(name, Role.EXPERTS));
        ScalingPlan scaling = ScalingResolver.resolve(owner.getSpec(), planned, replicas(liveAttention), replicas(liveExperts));
        requireKeda(scaling, store);
        Topology topology = TopologyResolver.resized(planned, owner.getSpec().placement(), scaling.attention().replicas(),
                scaling.experts().replicas());

        List<String> written = new ArrayList<>();
        String secretName = Names.secret(name);
        Secret secret = store.get(Secret.class, secretName)
                .filter(s -> !"missing".equals(ConfigManifests.secretDigest(s)))
                .orElse(null);
        if (secret == null) {
            Secret fresh = ConfigManifests.m2nSecret(owner, random);
            secret = store.get(Secret.class, secretName).isPresent() ? store.apply(fresh, null) : store.create(fresh);
            written.add("Secret/" + secretName);
        }
        List<HasMetadata> desired = DesiredState.children(owner, topology, ConfigManifests.secretDigest(secret), hfImage,
                scaling);
        removeStaleAutoscalers(name, scaling, store, written);
        for (HasMetadata child : desired) {
            boolean changed;
            if (child instanceof GenericKubernetesResource custom) {
                changed = writeCustom(custom, store);
            } else if (child instanceof StatefulSet set) {
                Role role = set.getMetadata().getName().equals(Names.statefulSet(name, Role.ATTENTION)) ? Role.ATTENTION : Role.EXPERTS;
                changed = writeStatefulSet(set, role == Role.ATTENTION ? liveAttention : liveExperts,
                        scaling.role(role).replicas(), store);
            } else {
                changed = write(child, store);
            }
            if (changed) {
                written.add(child.getKind() + "/" + child.getMetadata().getName());
            }
        }
        // After the experts StatefulSet is written: its controller picks the new revision, then this
        // (or a later) reconcile restarts the pool at once.
        expertRestart.restart(owner, store).forEach(pod -> written.add("-Pod/" + pod));
        return new Result(List.copyOf(written), topology, scaling);
    }

    private static OptionalInt replicas(Optional<StatefulSet> set) {
        return set.map(StatefulSet::getSpec).map(s -> s.getReplicas())
                .map(OptionalInt::of).orElse(OptionalInt.empty());
    }

    /** A ScaledObject on a cluster without KEDA would never scale: refuse before changing anything. */
    private static void requireKeda(ScalingPlan scaling, ChildStore store) {
        boolean wanted = List.of(scaling.attention(), scaling.experts()).stream()
                .anyMatch(r -> provider(r).filter(p -> p == RoleAutoscalingSpec.Provider.KEDA).isPresent());
        if (wanted && !store.serves(CustomKinds.SCALED_OBJECTS)) {
            throw new InvalidSpecException("KedaNotInstalled", "autoscaling provider keda needs KEDA's ScaledObject API "
                    + "(keda.sh/v1alpha1) on the cluster; install KEDA or use provider hpa");
        }
    }

    private static Optional<RoleAutoscalingSpec.Provider> provider(RoleScaling role) {
        return role.autoscaler().map(RoleAutoscalingSpec::providerOrDefault);
    }

    private static void removeStaleAutoscalers(String name, ScalingPlan scaling, ChildStore store, List<String> written) {
        for (Role role : Role.values()) {
            Optional<RoleAutoscalingSpec.Provider> wanted = provider(scaling.role(role));
            String autoscaler = Names.autoscaler(name, role);
            if (wanted.filter(p -> p == RoleAutoscalingSpec.Provider.HPA).isEmpty()
                    && store.get(HorizontalPodAutoscaler.class, autoscaler).filter(ChildReconciler::ours).isPresent()) {
                store.delete(HorizontalPodAutoscaler.class, autoscaler);
                written.add("-HorizontalPodAutoscaler/" + autoscaler);
            }
            if (wanted.filter(p -> p == RoleAutoscalingSpec.Provider.KEDA).isEmpty()
                    && store.getCustom(CustomKinds.SCALED_OBJECTS, autoscaler).filter(ChildReconciler::ours).isPresent()) {
                store.deleteCustom(CustomKinds.SCALED_OBJECTS, autoscaler);
                written.add("-ScaledObject/" + autoscaler);
            }
        }
    }

    /** Made by this operator (never delete a user's own autoscaler of the same name). */
    private static boolean ours(HasMetadata child) {
        return child.getMetadata().getLabels() != null
                && Names.MANAGED_BY.equals(child.getMetadata().getLabels().get("app.kubernetes.io/managed-by"));
    }

    /** Like {@link #write}, but the replicas an autoscaler owns are kept (see {@link StatefulSetManifests#forWrite}). */
    private static boolean writeStatefulSet(StatefulSet desired, Optional<StatefulSet> live, int initialReplicas,
                                            ChildStore store) {
        if (live.isEmpty()) {
            store.create(StatefulSetManifests.forWrite(desired, live, initialReplicas));
            return true;
        }
        if (ChildMatcher.matches(desired, live.get())) {
            return false;
        }
        store.apply(StatefulSetManifests.forWrite(desired, live, initialReplicas), live.get());
        return true;
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

    private static boolean writeCustom(GenericKubernetesResource desired, ChildStore store) {
        Optional<GenericKubernetesResource> actual = store.getCustom(CustomKinds.SCALED_OBJECTS, desired.getMetadata().getName());
        if (actual.isEmpty()) {
            store.createCustom(CustomKinds.SCALED_OBJECTS, desired);
            return true;
        }
        if (ChildMatcher.matches(desired, actual.get())) {
            return false;
        }
        store.applyCustom(CustomKinds.SCALED_OBJECTS, desired, actual.get());
        return true;
    }
}
