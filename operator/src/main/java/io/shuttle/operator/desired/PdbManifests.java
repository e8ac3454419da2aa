package io.shuttle.operator.desired;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudgetBuilder;
import io.shuttle.operator.api.MoEDeployment;

/** One PodDisruptionBudget per role: node drains take at most one pod of a pool at a time. */
public final class PdbManifests {
    private PdbManifests() {
    }

    public static PodDisruptionBudget pdb(MoEDeployment owner, Role role) {
        String name = owner.getMetadata().getName();
        return new PodDisruptionBudgetBuilder()
                .withMetadata(Owned.meta(owner, Names.pdb(name, role), Names.roleLabels(name, role)))
                .withNewSpec()
                .withMaxUnavailable(new IntOrString(1))
                .withNewSelector().withMatchLabels(Names.selector(name, role)).endSelector()
                .endSpec()
                .build();
    }
}
