package io.shuttle.operator.desired;

import java.util.LinkedHashMap;
import java.util.Map;

/** The names and labels of a deployment's children, in one place. */
public final class Names {
    public static final String MANAGED_BY = "shuttle-operator";
    public static final String LABEL_DEPLOYMENT = "shuttle.io/deployment";
    public static final String LABEL_ROLE = "shuttle.io/role";
    /** Nodes of a GPU pool carry this label with the catalog's GPU name (H20, L40S, ...). */
    public static final String LABEL_GPU_TYPE = "shuttle.io/gpu-type";
    public static final String ANNOTATION_PLAN_HASH = "shuttle.io/plan-sha256";
    public static final String ANNOTATION_SECRET_HASH = "shuttle.io/m2n-secret-sha256";
    /**
     * Longest deployment name: pod names are {@code <name>-experts-<ordinal>} and the StatefulSet
     * controller adds a {@code controller-revision-hash} label of {@code <pod name>-<10 chars>} that
     * must fit in 63 characters.
     */
    public static final int MAX_NAME_LENGTH = 40;

    private Names() {
    }

    public static String statefulSet(String deployment, Role role) {
        return deployment + "-" + role.suffix();
    }

    /** The headless Service of a role has the StatefulSet's name (its pods' DNS subdomain). */
    public static String headlessService(String deployment, Role role) {
        return statefulSet(deployment, role);
    }

    public static String pdb(String deployment, Role role) {
        return statefulSet(deployment, role);
    }

    /** A role's HPA or KEDA ScaledObject has the StatefulSet's name (KEDA's own HPA is {@code keda-hpa-<that>}). */
    public static String autoscaler(String deployment, Role role) {
        return statefulSet(deployment, role);
    }

    /** The client Service has the deployment's own name. */
    public static String clientService(String deployment) {
        return deployment;
    }

    public static String configMap(String deployment) {
        return deployment + "-plan";
    }

    public static String secret(String deployment) {
        return deployment + "-m2n";
    }

    /** Labels on every child. */
    public static Map<String, String> labels(String deployment) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("app.kubernetes.io/name", "shuttle");
        m.put("app.kubernetes.io/instance", deployment);
        m.put("app.kubernetes.io/managed-by", MANAGED_BY);
        m.put(LABEL_DEPLOYMENT, deployment);
        return m;
    }

    /** Labels of a role's pods and objects; also the pod selector. */
    public static Map<String, String> roleLabels(String deployment, Role role) {
        Map<String, String> m = labels(deployment);
        m.put("app.kubernetes.io/component", role.suffix());
        m.put(LABEL_ROLE, role.serveRole());
        return m;
    }

    /** The stable selector of a role (labels that never change for the StatefulSet's life). */
    public static Map<String, String> selector(String deployment, Role role) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(LABEL_DEPLOYMENT, deployment);
        m.put(LABEL_ROLE, role.serveRole());
        return m;
    }

    /** Label selector of everything the operator manages, for its informers. */
    public static String managedSelector() {
        return "app.kubernetes.io/managed-by=" + MANAGED_BY;
    }
}
