package io.shuttle.operator.api;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * A Mixtral-style MoE model served with attention/FFN disaggregation: an attention pool and an
 * expert pool, each its own StatefulSet, sized by hand or by the planner.
 */
@Group(MoEDeployment.GROUP)
@Version(MoEDeployment.VERSION)
@Kind("MoEDeployment")
@Singular("moedeployment")
@Plural("moedeployments")
@ShortNames("moe")
@AdditionalPrinterColumn(name = "Phase", jsonPath = ".status.phase", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Attention", jsonPath = ".status.attentionReady", type = AdditionalPrinterColumn.Type.STRING,
        getDescription = "attention pods ready/desired")
@AdditionalPrinterColumn(name = "Experts", jsonPath = ".status.expertsReady", type = AdditionalPrinterColumn.Type.STRING,
        getDescription = "expert pods ready/desired")
@AdditionalPrinterColumn(name = "Plan", jsonPath = ".status.planSummary", type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(name = "Age", jsonPath = ".metadata.creationTimestamp", type = AdditionalPrinterColumn.Type.DATE)
public class MoEDeployment extends CustomResource<MoEDeploymentSpec, MoEDeploymentStatus> implements Namespaced {
    public static final String GROUP = "shuttle.io";
    public static final String VERSION = "v1alpha1";
    public static final String API_VERSION = GROUP + "/" + VERSION;
}
