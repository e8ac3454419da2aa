package io.shuttle.operator.desired;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HPAScalingRules;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HPAScalingRulesBuilder;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscalerBuilder;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.api.RoleAutoscalingSpec;

import java.math.BigDecimal;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A pool's autoscaler: an autoscaling/v2 HorizontalPodAutoscaler on a Pods metric (served by
 * prometheus-adapter), or a KEDA {@code ScaledObject} with a Prometheus trigger, built as a
 * {@link GenericKubernetesResource} because KEDA's classes are not on the classpath. Both target
 * the role's StatefulSet and carry the bounds of {@link ScalingResolver}.
 *
 * <p>Scaling is deliberately slow (one pod per 3 minutes up, one per 5 minutes down after 5
 * minutes of lower load): a new pod loads its weights for minutes, and today every pod-count
 * change also restarts both pools to hand out the new plan (docs/OPERATOR.md).
 */
public final class AutoscalerManifests {
    public static final String KEDA_API_VERSION = "keda.sh/v1alpha1";
    public static final String SCALED_OBJECT_KIND = "ScaledObject";
    /** The adapter rule name the chart defines for the experts' token rate. */
    public static final String EXPERT_TOKENS_PER_SECOND = "shuttle_expert_tokens_per_second";
    static final int SCALE_UP_PERIOD_SECONDS = 180;
    static final int SCALE_DOWN_PERIOD_SECONDS = 300;
    static final int SCALE_DOWN_STABILIZATION_SECONDS = 300;

    private AutoscalerManifests() {
    }

    /** The HPA of an autoscaled pool whose provider is hpa. */
    public static HorizontalPodAutoscaler hpa(MoEDeployment owner, RoleScaling scaling) {
        RoleAutoscalingSpec spec = scaling.autoscaler().orElseThrow();
        String name = owner.getMetadata().getName();
        return new HorizontalPodAutoscalerBuilder()
                .withMetadata(Owned.meta(owner, Names.autoscaler(name, scaling.role()), Names.roleLabels(name, scaling.role())))
                .withNewSpec()
                .withNewScaleTargetRef().withApiVersion("apps/v1").withKind("StatefulSet")
                .withName(Names.statefulSet(name, scaling.role())).endScaleTargetRef()
                .withMinReplicas(scaling.minReplicas())
                .withMaxReplicas(scaling.maxReplicas())
                .addNewMetric().withType("Pods").withNewPods()
                .withNewMetric().withName(spec.metric()).endMetric()
                .withNewTarget().withType("AverageValue").withAverageValue(new Quantity(target(spec))).endTarget()
                .endPods().endMetric()
                .withNewBehavior().withScaleUp(scaleUp()).withScaleDown(scaleDown()).endBehavior()
                .endSpec()
                .build();
    }

    /** The KEDA ScaledObject of an autoscaled pool whose provider is keda. */
    public static GenericKubernetesResource scaledObject(MoEDeployment owner, RoleScaling scaling) {
        RoleAutoscalingSpec spec = scaling.autoscaler().orElseThrow();
        String name = owner.getMetadata().getName();
        String set = Names.statefulSet(name, scaling.role());
        Map<String, Object> target = new LinkedHashMap<>();
        target.put("apiVersion", "apps/v1");
        target.put("kind", "StatefulSet");
        target.put("name", set);
        Map<String, Object> trigger = new LinkedHashMap<>();
        trigger.put("serverAddress", spec.serverAddress());
        trigger.put("query", spec.query() != null ? spec.query()
                : defaultQuery(spec.metric(), owner.getMetadata().getNamespace(), set));
        trigger.put("threshold", threshold(spec));
        Map<String, Object> behavior = new LinkedHashMap<>();
        behavior.put("scaleUp", rules(0, SCALE_UP_PERIOD_SECONDS));
        behavior.put("scaleDown", rules(SCALE_DOWN_STABILIZATION_SECONDS, SCALE_DOWN_PERIOD_SECONDS));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("scaleTargetRef", target);
        body.put("minReplicaCount", scaling.minReplicas());
        body.put("maxReplicaCount", scaling.maxReplicas());
        body.put("advanced", Map.of("horizontalPodAutoscalerConfig", Map.of("behavior", behavior)));
        body.put("triggers", List.of(Map.of("type", "prometheus", "metadata", trigger)));
        GenericKubernetesResource so = new GenericKubernetesResourceBuilder()
                .withApiVersion(KEDA_API_VERSION)
                .withKind(SCALED_OBJECT_KIND)
                .withMetadata(Owned.meta(owner, Names.autoscaler(name, scaling.role()), Names.roleLabels(name, scaling.role())))
                .build();
        so.setAdditionalProperty("spec", body);
        return so;
    }

    /**
     * PromQL for a metric summed over the role's pods (KEDA divides it by the threshold to get a
     * pod count, as an HPA does with an average): counters by their 1-minute rate, and the
     * adapter-only name {@value #EXPERT_TOKENS_PER_SECOND} as the rate of
     * {@code shuttle_expert_tokens_total} it stands for. Pods are selected by the {@code namespace}
     * and {@code pod} labels Prometheus' Kubernetes discovery adds.
     */
    static String defaultQuery(String metric, String namespace, String statefulSet) {
        String selector = "{namespace=\"" + namespace + "\",pod=~\"" + statefulSet + "-[0-9]+\"}";
        if (EXPERT_TOKENS_PER_SECOND.equals(metric)) {
            return "sum(rate(shuttle_expert_tokens_total" + selector + "[1m]))";
        }
        if (metric.endsWith("_total")) {
            return "sum(rate(" + metric + selector + "[1m]))";
        }
        return "sum(" + metric + selector + ")";
    }

    /** The target as a quantity; zero or negative targets would make the autoscaler divide by zero. */
    private static String target(RoleAutoscalingSpec spec) {
        Quantity q = new Quantity(spec.target());
        if (Quantity.getAmountInBytes(q).signum() <= 0) {
            throw new InvalidSpecException("InvalidAutoscaling", "autoscaling target " + spec.target() + " of metric "
                    + spec.metric() + " must be above zero");
        }
        return spec.target();
    }

    /** KEDA reads the threshold as a plain decimal: "500m" becomes "0.5". */
    static String threshold(RoleAutoscalingSpec spec) {
        BigDecimal v = Quantity.getAmountInBytes(new Quantity(target(spec)));
        return v.stripTrailingZeros().toPlainString();
    }

    private static HPAScalingRules scaleUp() {
        return new HPAScalingRulesBuilder().withStabilizationWindowSeconds(0)
                .addNewPolicy().withType("Pods").withValue(1).withPeriodSeconds(SCALE_UP_PERIOD_SECONDS).endPolicy().build();
    }

    private static HPAScalingRules scaleDown() {
        return new HPAScalingRulesBuilder().withStabilizationWindowSeconds(SCALE_DOWN_STABILIZATION_SECONDS)
                .addNewPolicy().withType("Pods").withValue(1).withPeriodSeconds(SCALE_DOWN_PERIOD_SECONDS).endPolicy().build();
    }

    private static Map<String, Object> rules(int stabilization, int period) {
        Map<String, Object> policy = new LinkedHashMap<>();
        policy.put("type", "Pods");
        policy.put("value", 1);
        policy.put("periodSeconds", period);
        Map<String, Object> rules = new LinkedHashMap<>();
        rules.put("stabilizationWindowSeconds", stabilization);
        rules.put("policies", List.of(policy));
        return rules;
    }
}
