package io.shuttle.operator.reconciler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscalerBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.shuttle.operator.Specs;
import io.shuttle.operator.api.AutoscalingSpec;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.api.RoleAutoscalingSpec;
import io.shuttle.operator.desired.AutoscalerManifests;
import io.shuttle.operator.desired.Names;
import io.shuttle.operator.desired.TopologyResolver;
import io.shuttle.operator.planner.Planner;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Autoscaled pools on the Fabric8 mock API server (CRUD): the autoscalers are made, updated and
 * deleted, and a replica count chosen by an autoscaler is never written back by the operator.
 * One server for the class (a new one costs seconds); each test works in its own namespace.
 */
@EnableKubernetesMockClient(crud = true)
class AutoscalingReconcileTest {
    static final String WAITING = "shuttle_requests_waiting";
    static final String TOKENS = AutoscalerManifests.EXPERT_TOKENS_PER_SECOND;
    static final String PROMETHEUS = "http://prometheus.monitoring.svc:9090";
    static KubernetesMockServer server;
    static KubernetesClient client;

    private final MoEDeploymentReconciler reconciler = new MoEDeploymentReconciler(TestConfig.mock(),
            new TopologyResolver(new Planner()::plan), new SecureRandom(), Clock.systemUTC());
    private final ObjectMapper json = new ObjectMapper();
    private String ns;
    private RecordingStore store;

    @BeforeEach
    void namespace(org.junit.jupiter.api.TestInfo test) throws InterruptedException {
        ns = "t" + Integer.toHexString(test.getDisplayName().hashCode());
        store = new RecordingStore(new ClientChildStore(client, ns, false));
        drain();
    }

    /** Every request since the last call. */
    private static List<RecordedRequest> drain() throws InterruptedException {
        List<RecordedRequest> requests = new ArrayList<>();
        RecordedRequest r;
        while ((r = server.takeRequest(20, TimeUnit.MILLISECONDS)) != null) {
            requests.add(r);
        }
        return requests;
    }

    private List<String> writes() throws InterruptedException {
        return drain().stream().filter(r -> !r.getMethod().equals("GET"))
                .map(r -> r.getMethod() + " " + r.getPath().replace("/namespaces/" + ns + "/", "/NS/")).toList();
    }

    private StatusAggregator.Outcome apply(MoEDeployment d) {
        return reconciler.apply(d, store);
    }

    private <T extends HasMetadata> T get(Class<T> type, String name) {
        return client.resources(type).inNamespace(ns).withName(name).get();
    }

    /** What an HPA does: it sets the StatefulSet's replicas. */
    private void scale(String set, int replicas) throws InterruptedException {
        client.apps().statefulSets().inNamespace(ns).withName(set).edit(s -> {
            s.getSpec().setReplicas(replicas);
            return s;
        });
        drain();
    }

    /** The plan hash on a StatefulSet's pod template: a new value restarts that pool's pods. */
    private String planHash(String statefulSet) {
        return get(StatefulSet.class, statefulSet).getSpec().getTemplate().getMetadata().getAnnotations()
                .get(Names.ANNOTATION_PLAN_HASH);
    }

    private JsonNode plan() throws Exception {
        return json.readTree(get(ConfigMap.class, "demo-plan").getData().get("plan.json"));
    }

    private MoEDeployment tiny(AutoscalingSpec autoscaling) {
        return Specs.withAutoscaling(Specs.example("tiny-cpu.yaml", ns), autoscaling);
    }

    private MoEDeployment bothAutoscaled() {
        return tiny(new AutoscalingSpec(Specs.hpa(1, 8, WAITING, "4"), Specs.hpa(1, 8, TOKENS, "2000"), null));
    }

    @Test
    void anAutoscalersScaleFlowsIntoThePlanAndIsNeverWrittenBack() throws Exception {
        MoEDeployment d = bothAutoscaled();
        apply(d);
        List<String> first = writes();
        assertEquals(11, first.size(), "the 9 children and 2 HPAs: " + first);
        HorizontalPodAutoscaler attention = get(HorizontalPodAutoscaler.class, "demo-attention");
        HorizontalPodAutoscaler experts = get(HorizontalPodAutoscaler.class, "demo-experts");
        assertEquals(List.of(1, 8), List.of(attention.getSpec().getMinReplicas(), attention.getSpec().getMaxReplicas()));
        // band 0.5..2 around the spec's 2:2; experts follow 2 attention pods: 1..4
        assertEquals(List.of(1, 4), List.of(experts.getSpec().getMinReplicas(), experts.getSpec().getMaxReplicas()));
        assertEquals(2, get(StatefulSet.class, "demo-attention").getSpec().getReplicas(), "created at the planned count");

        // the attention HPA scales out to 4: the plan and the expert band follow, and no pod
        // template changes (both pools read a new attention count live), so no StatefulSet is written
        String attentionHash = planHash("demo-attention");
        String expertsHash = planHash("demo-experts");
        scale("demo-attention", 4);
        apply(d);
        assertEquals(List.of(
                "PUT /api/v1/NS/configmaps/demo-plan",
                "PUT /apis/autoscaling/v2/NS/horizontalpodautoscalers/demo-experts"), writes());
        assertEquals(List.of(attentionHash, expertsHash), List.of(planHash("demo-attention"), planHash("demo-experts")));
        assertEquals(4, get(StatefulSet.class, "demo-attention").getSpec().getReplicas(), "not reverted to the spec's 2");
        assertEquals(4, plan().path("attention").path("replicas").asInt(), "the experts learn of the new attention pods");
        experts = get(HorizontalPodAutoscaler.class, "demo-experts");
        assertEquals(List.of(2, 8), List.of(experts.getSpec().getMinReplicas(), experts.getSpec().getMaxReplicas()),
                "ceil(4/2) .. floor(4/0.5): the band moved with the attention pods");
        apply(d);
        assertEquals(List.of(), writes(), "the new count is the steady state: no writes");

        // the expert HPA scales out to 3: the placement is made again; the expert pods must restart
        // to load their new experts, the attention pods switch to the new pool live
        scale("demo-experts", 3);
        store.applied.clear();
        var outcome = (StatusAggregator.Outcome.Applied) apply(d);
        assertEquals(3, get(StatefulSet.class, "demo-experts").getSpec().getReplicas());
        assertEquals(4, get(StatefulSet.class, "demo-attention").getSpec().getReplicas());
        assertEquals(3, plan().path("experts").path("placement").size());
        assertNotEquals(expertsHash, planHash("demo-experts"));
        assertEquals(attentionHash, planHash("demo-attention"));
        // the expert StatefulSet is rewritten for its new plan hash with exactly the live count and
        // the live version as a precondition: no write changes a replica count
        List<RecordingStore.Applied> sets = store.applied.stream().filter(a -> a.sent() instanceof StatefulSet).toList();
        assertEquals(List.of("demo-experts"), sets.stream().map(a -> a.sent().getMetadata().getName()).toList());
        for (RecordingStore.Applied a : sets) {
            StatefulSet sent = (StatefulSet) a.sent();
            StatefulSet live = (StatefulSet) a.live();
            assertEquals(live.getSpec().getReplicas(), sent.getSpec().getReplicas(), sent.getMetadata().getName());
            assertEquals(live.getMetadata().getResourceVersion(), sent.getMetadata().getResourceVersion());
        }
        assertEquals(List.of(4, 3), List.of(outcome.scaling().attention().replicas(), outcome.scaling().experts().replicas()));
    }

    @Test
    void disablingDeletesTheAutoscalerAndReturnsToTheSpecCount() throws Exception {
        MoEDeployment d = bothAutoscaled();
        apply(d);
        scale("demo-attention", 4);
        apply(d);
        drain();
        MoEDeployment off = tiny(new AutoscalingSpec(new RoleAutoscalingSpec(false, 1, 8, null, WAITING, "4", null, null),
                Specs.hpa(1, 8, TOKENS, "2000"), null));
        apply(off);
        List<String> w = writes();
        assertEquals("DELETE /apis/autoscaling/v2/NS/horizontalpodautoscalers/demo-attention", w.getFirst(),
                "the autoscaler goes before the operator takes the replicas back: " + w);
        assertNull(get(HorizontalPodAutoscaler.class, "demo-attention"));
        assertNotNull(get(HorizontalPodAutoscaler.class, "demo-experts"));
        assertEquals(2, get(StatefulSet.class, "demo-attention").getSpec().getReplicas(), "the spec's count again");
        assertEquals(2, plan().path("attention").path("replicas").asInt());
        apply(off);
        assertEquals(List.of(), writes());

        // an HPA of the same name that the operator did not make is left alone
        client.resource(new HorizontalPodAutoscalerBuilder().withNewMetadata().withName("demo-attention").withNamespace(ns)
                .endMetadata().withNewSpec().withMaxReplicas(3).withNewScaleTargetRef().withKind("StatefulSet")
                .withName("other").endScaleTargetRef().endSpec().build()).create();
        apply(tiny(null));
        assertNotNull(get(HorizontalPodAutoscaler.class, "demo-attention"));
        assertNull(get(HorizontalPodAutoscaler.class, "demo-experts"), "ours is deleted once autoscaling is off");
    }

    @Test
    void theKedaProviderNeedsKedaThenMakesAScaledObjectAndSwitchingProvidersReplacesIt() throws Exception {
        MoEDeployment keda = tiny(new AutoscalingSpec(null, Specs.keda(1, 4, TOKENS, "1500", PROMETHEUS), null));
        if (!store.serves(CustomKinds.SCALED_OBJECTS)) {
            var rejected = (StatusAggregator.Outcome.Rejected) apply(keda);
            assertEquals("KedaNotInstalled", rejected.reason());
            assertEquals(List.of(), writes(), "nothing is written without KEDA");
            client.apiextensions().v1().customResourceDefinitions().resource(new CustomResourceDefinitionBuilder()
                    .withNewMetadata().withName("scaledobjects.keda.sh").endMetadata()
                    .withNewSpec().withGroup("keda.sh").withScope("Namespaced")
                    .withNewNames().withKind("ScaledObject").withPlural("scaledobjects").withSingular("scaledobject").endNames()
                    .addNewVersion().withName("v1alpha1").withServed(true).withStorage(true).endVersion()
                    .endSpec().build()).create();
        }
        assertTrue(apply(keda) instanceof StatusAggregator.Outcome.Applied);
        var so = client.genericKubernetesResources("keda.sh/v1alpha1", "ScaledObject").inNamespace(ns).withName("demo-experts").get();
        assertNotNull(so, "a keda.sh ScaledObject");
        @SuppressWarnings("unchecked")
        Map<String, Object> spec = (Map<String, Object>) so.getAdditionalProperties().get("spec");
        assertEquals("demo-experts", ((Map<?, ?>) spec.get("scaleTargetRef")).get("name"));
        assertEquals(4, ((Number) spec.get("maxReplicaCount")).intValue());
        assertEquals("uid-demo", so.getMetadata().getOwnerReferences().getFirst().getUid());
        drain();
        apply(keda);
        assertEquals(List.of(), writes(), "an unchanged ScaledObject is not rewritten");

        apply(tiny(new AutoscalingSpec(null, Specs.hpa(1, 4, TOKENS, "1500"), null)));
        List<String> w = writes();
        assertEquals("DELETE /apis/keda.sh/v1alpha1/NS/scaledobjects/demo-experts", w.getFirst(), w.toString());
        assertTrue(w.contains("POST /apis/autoscaling/v2/NS/horizontalpodautoscalers"), w.toString());
        assertNull(client.genericKubernetesResources("keda.sh/v1alpha1", "ScaledObject").inNamespace(ns)
                .withName("demo-experts").get());
    }
}
