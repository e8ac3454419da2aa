package io.shuttle.operator.desired;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.autoscaling.v2.MetricSpec;
import io.shuttle.operator.Specs;
import io.shuttle.operator.api.AutoscalingSpec;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.api.MoEDeploymentSpec;
import io.shuttle.operator.api.PipelineSpec;
import io.shuttle.operator.api.RoleAutoscalingSpec;
import io.shuttle.operator.planner.Planner;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The autoscalers, the StatefulSets under them, and the drain settings of the pod template. */
class AutoscalerManifestsTest {
    private static final String PROMETHEUS = "http://prometheus.monitoring.svc:9090";
    private final TopologyResolver resolver = new TopologyResolver(new Planner()::plan);

    private List<HasMetadata> children(MoEDeployment d) {
        return DesiredState.children(d, resolver.resolve(d.getSpec()), "digest", Optional.empty());
    }

    private static <T extends HasMetadata> List<T> all(List<HasMetadata> children, Class<T> type) {
        return children.stream().filter(type::isInstance).map(type::cast).toList();
    }

    private static StatefulSet set(List<HasMetadata> children, String name) {
        return all(children, StatefulSet.class).stream().filter(s -> s.getMetadata().getName().equals(name)).findFirst()
                .orElseThrow();
    }

    @Test
    void anHpaTargetsTheRolesStatefulSetWithThePodsMetricAndTheBandsBounds() {
        MoEDeployment d = Specs.withAutoscaling(Specs.tiny(), new AutoscalingSpec(
                Specs.hpa(1, 8, "shuttle_kv_cache_usage_ratio", "800m"), null, null));
        List<HasMetadata> children = children(d);
        assertEquals(9, children.size(), "the 8 children and one HPA");
        HorizontalPodAutoscaler hpa = all(children, HorizontalPodAutoscaler.class).getFirst();
        assertEquals("demo-attention", hpa.getMetadata().getName());
        assertEquals("uid-demo", hpa.getMetadata().getOwnerReferences().getFirst().getUid());
        assertTrue(hpa.getMetadata().getOwnerReferences().getFirst().getController());
        assertEquals("shuttle-operator", hpa.getMetadata().getLabels().get("app.kubernetes.io/managed-by"));
        var ref = hpa.getSpec().getScaleTargetRef();
        assertEquals(List.of("apps/v1", "StatefulSet", "demo-attention"), List.of(ref.getApiVersion(), ref.getKind(), ref.getName()));
        // experts fixed at 2, default band 0.5..2: attention 1..4 (the user's 8 narrowed)
        assertEquals(1, hpa.getSpec().getMinReplicas());
        assertEquals(4, hpa.getSpec().getMaxReplicas());
        MetricSpec metric = hpa.getSpec().getMetrics().getFirst();
        assertEquals("Pods", metric.getType());
        assertEquals("shuttle_kv_cache_usage_ratio", metric.getPods().getMetric().getName());
        assertEquals("AverageValue", metric.getPods().getTarget().getType());
        assertEquals("800m", metric.getPods().getTarget().getAverageValue().toString());
        assertEquals(1, hpa.getSpec().getBehavior().getScaleUp().getPolicies().getFirst().getValue());
        assertEquals(300, hpa.getSpec().getBehavior().getScaleDown().getStabilizationWindowSeconds());
        // the autoscaled pool's StatefulSet says nothing about replicas; the fixed pool's does
        assertNull(set(children, "demo-attention").getSpec().getReplicas());
        assertEquals(2, set(children, "demo-experts").getSpec().getReplicas());
    }

    @Test
    void aScaledObjectHasAPrometheusTriggerWithADefaultQueryPerPod() {
        MoEDeployment d = Specs.withAutoscaling(Specs.tiny(), new AutoscalingSpec(null,
                Specs.keda(1, 4, AutoscalerManifests.EXPERT_TOKENS_PER_SECOND, "1500", PROMETHEUS), null));
        List<HasMetadata> children = children(d);
        assertTrue(all(children, HorizontalPodAutoscaler.class).isEmpty());
        GenericKubernetesResource so = all(children, GenericKubernetesResource.class).getFirst();
        assertEquals("keda.sh/v1alpha1", so.getApiVersion());
        assertEquals("ScaledObject", so.getKind());
        assertEquals("demo-experts", so.getMetadata().getName());
        assertEquals("uid-demo", so.getMetadata().getOwnerReferences().getFirst().getUid());
        @SuppressWarnings("unchecked")
        Map<String, Object> spec = (Map<String, Object>) so.getAdditionalProperties().get("spec");
        assertEquals(Map.of("apiVersion", "apps/v1", "kind", "StatefulSet", "name", "demo-experts"), spec.get("scaleTargetRef"));
        // attention fixed at 2, band 0.5..2: experts ceil(2/2)=1 .. floor(2/0.5)=4
        assertEquals(1, spec.get("minReplicaCount"));
        assertEquals(4, spec.get("maxReplicaCount"));
        @SuppressWarnings("unchecked")
        Map<String, Object> trigger = ((List<Map<String, Object>>) spec.get("triggers")).getFirst();
        assertEquals("prometheus", trigger.get("type"));
        assertEquals(Map.of("serverAddress", PROMETHEUS,
                "query", "sum(rate(shuttle_expert_tokens_total{namespace=\"shuttle\",pod=~\"demo-experts-[0-9]+\"}[1m]))",
                "threshold", "1500"), trigger.get("metadata"));
        assertNull(set(children, "demo-experts").getSpec().getReplicas());
    }

    @Test
    void theAutoscalingExampleReadsBackAndMakesTwoHpas() {
        MoEDeployment d = Specs.example("tiny-cpu-autoscaling.yaml", "shuttle");
        List<HasMetadata> children = children(d);
        List<HorizontalPodAutoscaler> hpas = all(children, HorizontalPodAutoscaler.class);
        assertEquals(List.of("demo-attention", "demo-experts"), hpas.stream().map(h -> h.getMetadata().getName()).toList());
        assertEquals("shuttle_expert_tokens_per_second", hpas.get(1).getSpec().getMetrics().getFirst().getPods().getMetric()
                .getName());
        assertEquals(RoleAutoscalingSpec.Provider.HPA, d.getSpec().autoscaling().attention().provider());
        assertEquals(30, d.getSpec().pipeline().drainSeconds());
    }

    @Test
    void defaultQueriesAndThresholds() {
        assertEquals("sum(shuttle_requests_waiting{namespace=\"ns\",pod=~\"x-attention-[0-9]+\"})",
                AutoscalerManifests.defaultQuery("shuttle_requests_waiting", "ns", "x-attention"));
        assertEquals("sum(rate(shuttle_m2n_bytes_total{namespace=\"ns\",pod=~\"x-experts-[0-9]+\"}[1m]))",
                AutoscalerManifests.defaultQuery("shuttle_m2n_bytes_total", "ns", "x-experts"));
        assertEquals("0.5", AutoscalerManifests.threshold(Specs.keda(1, 2, "m", "500m", PROMETHEUS)));
        assertEquals("2000", AutoscalerManifests.threshold(Specs.keda(1, 2, "m", "2k", PROMETHEUS)));
        var zero = assertThrows(InvalidSpecException.class, () -> AutoscalerManifests.threshold(Specs.keda(1, 2, "m", "0", PROMETHEUS)));
        assertEquals("InvalidAutoscaling", zero.reason());
    }

    @Test
    void anExplicitKedaQueryIsKept() {
        RoleAutoscalingSpec r = new RoleAutoscalingSpec(true, 1, 3, RoleAutoscalingSpec.Provider.KEDA, "t_e", "0.002",
                PROMETHEUS, "avg(rate(shuttle_expert_seconds_sum[2m]) / rate(shuttle_expert_seconds_count[2m]))");
        MoEDeployment d = Specs.withAutoscaling(Specs.tiny(), new AutoscalingSpec(null, r, null));
        GenericKubernetesResource so = all(children(d), GenericKubernetesResource.class).getFirst();
        assertTrue(so.getAdditionalProperties().get("spec").toString().contains("avg(rate(shuttle_expert_seconds_sum[2m])"));
    }

    @Test
    void disabledAutoscalingMakesNoAutoscalerAndKeepsReplicas() {
        MoEDeployment d = Specs.withAutoscaling(Specs.tiny(), new AutoscalingSpec(
                new RoleAutoscalingSpec(false, 1, 8, null, "shuttle_requests_waiting", "4", null, null), null, null));
        List<HasMetadata> children = children(d);
        assertEquals(8, children.size());
        assertEquals(2, set(children, "demo-attention").getSpec().getReplicas());
    }

    @Test
    void aStatefulSetWriteCarriesTheLiveCountAndResourceVersionOfAnAutoscaledPool() {
        MoEDeployment d = Specs.withAutoscaling(Specs.tiny(), new AutoscalingSpec(Specs.hpa(1, 4, "w", "4"), null, null));
        StatefulSet desired = set(children(d), "demo-attention");
        StatefulSet live = new StatefulSetBuilder(desired).editSpec().withReplicas(3).endSpec()
                .editMetadata().withResourceVersion("42").endMetadata().build();
        StatefulSet write = StatefulSetManifests.forWrite(desired, Optional.of(live), 2);
        assertEquals(3, write.getSpec().getReplicas(), "the autoscaler's count, not the plan's");
        assertEquals("42", write.getMetadata().getResourceVersion(), "a precondition: a newer scale makes the write fail");
        assertNull(desired.getSpec().getReplicas(), "the desired object is not changed");
        StatefulSet first = StatefulSetManifests.forWrite(desired, Optional.empty(), 2);
        assertEquals(2, first.getSpec().getReplicas());
        assertNull(first.getMetadata().getResourceVersion());
        StatefulSet fixed = set(children(Specs.tiny()), "demo-attention");
        assertSame(fixed, StatefulSetManifests.forWrite(fixed, Optional.of(live), 2), "a pool without an autoscaler is written as planned");
    }

    @Test
    void podsDrainOnScaleInWithAPreStopWaitAndAGracePeriodAboveTheDrain() {
        PodSpec pod = set(children(Specs.tiny()), "demo-experts").getSpec().getTemplate().getSpec();
        Container c = pod.getContainers().getFirst();
        assertEquals(40L, pod.getTerminationGracePeriodSeconds(), "default drain 30 s + 10");
        assertEquals(5L, c.getLifecycle().getPreStop().getSleep().getSeconds());
        assertEquals("30", env(c, "SHUTTLE_DRAIN_SECONDS"));

        MoEDeployment d = Specs.tiny();
        MoEDeploymentSpec s = d.getSpec();
        PipelineSpec p = s.pipeline();
        d.setSpec(new MoEDeploymentSpec(s.model(), s.image(), s.attention(), s.experts(), new PipelineSpec(p.microBatches(),
                p.maxBatch(), p.maxRunning(), p.maxWaiting(), p.maxModelLen(), p.kvBlocks(), p.kvBlockSize(),
                p.roundTimeoutMillis(), 120), s.plan(), s.placement(), s.api(), s.m2n(), s.autoscaling()));
        PodSpec longer = set(children(d), "demo-attention").getSpec().getTemplate().getSpec();
        assertEquals(130L, longer.getTerminationGracePeriodSeconds());
        assertEquals("120", env(longer.getContainers().getFirst(), "SHUTTLE_DRAIN_SECONDS"));
    }

    private static String env(Container c, String name) {
        return c.getEnv().stream().filter(e -> e.getName().equals(name)).findFirst().orElseThrow().getValue();
    }
}
