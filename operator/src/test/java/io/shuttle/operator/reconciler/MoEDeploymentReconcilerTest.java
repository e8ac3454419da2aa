package io.shuttle.operator.reconciler;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetStatusBuilder;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscalerStatusBuilder;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.javaoperatorsdk.operator.Operator;
import io.shuttle.operator.Specs;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.api.MoEDeploymentSpec;
import io.shuttle.operator.api.PlacementSpec;
import io.shuttle.operator.desired.DesiredStateTestAccess;
import io.shuttle.operator.desired.Names;
import io.shuttle.operator.desired.TopologyResolver;
import io.shuttle.operator.planner.Planner;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The running operator (plain JOSDK) against the Fabric8 mock API server in CRUD mode. */
@EnableKubernetesMockClient(crud = true)
class MoEDeploymentReconcilerTest {
    static final String NS = "shuttle";
    static final Duration WAIT = Duration.ofSeconds(20);
    KubernetesClient client;
    private Operator operator;

    @BeforeEach
    void start() {
        operator = new Operator(o -> o.withKubernetesClient(client).withCloseClientOnStop(false)
                .withUseSSAToPatchPrimaryResource(false));
        operator.register(new MoEDeploymentReconciler(TestConfig.mock(), new TopologyResolver(new Planner()::plan),
                new SecureRandom(), Clock.systemUTC()), c -> c.settingNamespace(NS));
        operator.start();
    }

    @AfterEach
    void stop() {
        operator.stop();
    }

    private MoEDeployment live(String name) {
        return client.resources(MoEDeployment.class).inNamespace(NS).withName(name).get();
    }

    private <T extends HasMetadata> T get(Class<T> type, String name) {
        return client.resources(type).inNamespace(NS).withName(name).get();
    }

    /** The plan hash on a StatefulSet's pod template: a new value restarts that pool's pods. */
    private String planHash(String statefulSet) {
        return get(StatefulSet.class, statefulSet).getSpec().getTemplate().getMetadata().getAnnotations()
                .get(Names.ANNOTATION_PLAN_HASH);
    }

    private String condition(String name, String type) {
        MoEDeployment d = live(name);
        if (d.getStatus() == null) {
            return null;
        }
        return d.getStatus().conditions().stream().filter(c -> c.getType().equals(type)).findFirst()
                .map(c -> c.getStatus() + "/" + c.getReason()).orElse(null);
    }

    private MoEDeployment create(MoEDeployment d) {
        d.getMetadata().setUid(null);
        d.getMetadata().setGeneration(null);
        return client.resource(d).inNamespace(NS).create();
    }

    /** Edits the spec, retrying when the operator's status write got in between (409). */
    private void edit(String name, java.util.function.UnaryOperator<MoEDeploymentSpec> change) {
        await().atMost(WAIT).ignoreExceptionsInstanceOf(io.fabric8.kubernetes.client.KubernetesClientException.class)
                .until(() -> client.resources(MoEDeployment.class).inNamespace(NS).withName(name).edit(d -> {
                    d.setSpec(change.apply(d.getSpec()));
                    return d;
                }) != null);
    }

    @Test
    void createBuildsEveryChildThenRepairsDriftAndReportsStatus() throws Exception {
        MoEDeployment created = create(Specs.tiny());
        String uid = created.getMetadata().getUid();
        await().atMost(WAIT).untilAsserted(() -> {
            for (String n : List.of("demo-attention", "demo-experts", "demo")) {
                assertNotNull(get(Service.class, n), n);
            }
            assertNotNull(get(StatefulSet.class, "demo-attention"));
            assertNotNull(get(StatefulSet.class, "demo-experts"));
            assertNotNull(get(PodDisruptionBudget.class, "demo-experts"));
            assertEquals("True/ManualPlan", condition("demo", "Planned"));
        });
        // every child is owned by the deployment (the mock has no garbage collector)
        for (Class<? extends HasMetadata> type : List.of(ConfigMap.class, Secret.class, Service.class, StatefulSet.class,
                PodDisruptionBudget.class)) {
            for (HasMetadata child : client.resources(type).inNamespace(NS).list().getItems()) {
                assertEquals(uid, child.getMetadata().getOwnerReferences().getFirst().getUid(), child.getKind());
            }
        }
        ObjectMapper json = new ObjectMapper();
        assertEquals(json.readTree(Files.readString(Path.of("src/test/resources/plan/demo-tiny.json"))),
                json.readTree(get(ConfigMap.class, "demo-plan").getData().get("plan.json")));
        MoEDeployment d = live("demo");
        assertEquals(d.getMetadata().getGeneration(), d.getStatus().observedGeneration());
        assertEquals("http://demo.shuttle.svc:8000", d.getStatus().endpoint());
        assertEquals("False/PodsNotReady", condition("demo", "Ready"));
        assertEquals("Progressing", d.getStatus().phase());
        assertEquals("cpu×2 / cpu×2, m=2", d.getStatus().planSummary());

        // the StatefulSet controller reports all pods ready → Ready
        for (String set : List.of("demo-attention", "demo-experts")) {
            StatefulSet s = get(StatefulSet.class, set);
            s.setStatus(new StatefulSetStatusBuilder().withReplicas(2).withReadyReplicas(2).withUpdatedReplicas(2)
                    .withCurrentRevision("r1").withUpdateRevision("r1").build());
            client.resource(s).updateStatus();
        }
        await().atMost(WAIT).untilAsserted(() -> {
            assertEquals("True/AllPodsReady", condition("demo", "Ready"));
            assertEquals("Ready", live("demo").getStatus().phase());
            assertEquals("2/2", live("demo").getStatus().attentionReady());
        });

        // drift: a deleted StatefulSet comes back, an edited ConfigMap is restored, the Secret is kept
        String secret = get(Secret.class, "demo-m2n").getData().get("secret");
        client.resources(StatefulSet.class).inNamespace(NS).withName("demo-experts").delete();
        client.configMaps().inNamespace(NS).withName("demo-plan").edit(c -> {
            c.getData().put("plan.json", "{}");
            return c;
        });
        await().atMost(WAIT).untilAsserted(() -> {
            assertNotNull(get(StatefulSet.class, "demo-experts"));
            assertNotEquals("{}", get(ConfigMap.class, "demo-plan").getData().get("plan.json"));
        });
        assertEquals(secret, get(Secret.class, "demo-m2n").getData().get("secret"));
    }

    @Test
    void scalingEachRoleAndEditingTheSpecReachTheChildren() {
        create(Specs.tiny());
        await().atMost(WAIT).until(() -> get(StatefulSet.class, "demo-experts") != null);
        String attentionHash = planHash("demo-attention");
        String expertsHash = planHash("demo-experts");
        edit("demo", s -> new MoEDeploymentSpec(s.model(), s.image(), DesiredStateTestAccess.withReplicas(s.attention(), 3),
                s.experts(), s.pipeline(), s.plan(), s.placement(), s.api(), s.m2n(), s.autoscaling()));
        await().atMost(WAIT).untilAsserted(() -> {
            assertEquals(3, get(StatefulSet.class, "demo-attention").getSpec().getReplicas());
            MoEDeployment d = live("demo");
            assertEquals(d.getMetadata().getGeneration(), d.getStatus().observedGeneration(), "the reconcile finished");
        });
        assertEquals(List.of(attentionHash, expertsHash), List.of(planHash("demo-attention"), planHash("demo-experts")),
                "a new attention count restarts no pod: both pools read it from the plan file live");
        edit("demo", s -> new MoEDeploymentSpec(s.model(), "registry.example/shuttle:0.2", s.attention(),
                DesiredStateTestAccess.withReplicas(s.experts(), 4), s.pipeline(), s.plan(), s.placement(), s.api(), s.m2n(), s.autoscaling()));
        await().atMost(WAIT).untilAsserted(() -> {
            StatefulSet experts = get(StatefulSet.class, "demo-experts");
            assertEquals(4, experts.getSpec().getReplicas());
            assertEquals("registry.example/shuttle:0.2", experts.getSpec().getTemplate().getSpec().getContainers().getFirst().getImage());
            assertEquals("[ [ 0 ], [ 1 ], [ 2 ], [ 3 ] ]\n", get(ConfigMap.class, "demo-plan").getData().get("placement.json"));
            assertNotEquals(expertsHash, planHash("demo-experts"), "expert pods load their new experts at start");
            assertEquals(attentionHash, planHash("demo-attention"), "attention pods switch to the new expert pool live");
            MoEDeployment d = live("demo");
            assertEquals(d.getMetadata().getGeneration(), d.getStatus().observedGeneration());
            assertEquals(List.of(1, 1, 1, 1), d.getStatus().plan().expertsPerPod());
        });
    }

    @Test
    void theOperatorFollowsAnAutoscalersScaleInsteadOfRevertingIt() throws Exception {
        create(Specs.withAutoscaling(Specs.tiny(), new io.shuttle.operator.api.AutoscalingSpec(
                Specs.hpa(1, 4, "shuttle_requests_waiting", "4"), null, null)));
        await().atMost(WAIT).untilAsserted(() -> {
            assertNotNull(get(HorizontalPodAutoscaler.class, "demo-attention"));
            assertNotNull(live("demo").getStatus());
            assertEquals("hpa", live("demo").getStatus().autoscaling().attention().provider());
        });
        String hash = planHash("demo-attention");
        // the HPA scales the attention pool to 3 and reports it
        client.apps().statefulSets().inNamespace(NS).withName("demo-attention").edit(s -> {
            s.getSpec().setReplicas(3);
            return s;
        });
        HorizontalPodAutoscaler hpa = get(HorizontalPodAutoscaler.class, "demo-attention");
        hpa.setStatus(new HorizontalPodAutoscalerStatusBuilder().withCurrentReplicas(3).withDesiredReplicas(3).build());
        client.resource(hpa).updateStatus();
        ObjectMapper json = new ObjectMapper();
        await().atMost(WAIT).untilAsserted(() -> {
            assertEquals(3, json.readTree(get(ConfigMap.class, "demo-plan").getData().get("plan.json"))
                    .path("attention").path("replicas").asInt(), "the plan follows the live count");
            var status = live("demo").getStatus().autoscaling();
            assertEquals(3, status.attention().currentReplicas());
            assertEquals(List.of(1, 4), List.of(status.attention().minReplicas(), status.attention().maxReplicas()));
            assertEquals("0.5-2", status.ratio());
        });
        assertEquals(3, get(StatefulSet.class, "demo-attention").getSpec().getReplicas(), "not reverted to the spec's 2");
        assertEquals(hash, planHash("demo-attention"), "the running attention pods read the new count live");
    }

    /** A pod of a StatefulSet as its controller makes it (the mock has none): template labels, revision label, owner. */
    private void statefulSetPod(String set, int ordinal, String revision) {
        StatefulSet s = get(StatefulSet.class, set);
        Map<String, String> labels = new java.util.LinkedHashMap<>(s.getSpec().getTemplate().getMetadata().getLabels());
        labels.put("controller-revision-hash", revision);
        client.resource(new PodBuilder().withNewMetadata().withName(set + "-" + ordinal).withNamespace(NS).withLabels(labels)
                .addNewOwnerReference().withApiVersion("apps/v1").withKind("StatefulSet").withName(set)
                .withUid(s.getMetadata().getUid()).withController(true).endOwnerReference()
                .endMetadata().withSpec(s.getSpec().getTemplate().getSpec()).build()).create();
    }

    private void rolling(String set, String current, String update) {
        StatefulSet s = get(StatefulSet.class, set);
        s.setStatus(new StatefulSetStatusBuilder().withReplicas(2).withObservedGeneration(s.getMetadata().getGeneration())
                .withCurrentRevision(current).withUpdateRevision(update).build());
        client.resource(s).updateStatus();
    }

    private List<String> podNames() {
        return client.pods().inNamespace(NS).list().getItems().stream().map(p -> p.getMetadata().getName()).sorted().toList();
    }

    @Test
    void theRunningOperatorRestartsTheWholeExpertPoolWhenItsControllerStartsARoll() {
        create(Specs.tiny());
        await().atMost(WAIT).until(() -> get(StatefulSet.class, "demo-experts") != null);
        for (int i = 0; i < 2; i++) {
            statefulSetPod("demo-experts", i, "experts-old");
            statefulSetPod("demo-attention", i, "attention-old");
        }
        // Both controllers start a roll (an image change would do that): the experts' status event
        // reconciles, and the operator finds the old expert pods in its pod cache.
        rolling("demo-attention", "attention-old", "attention-new");
        rolling("demo-experts", "experts-old", "experts-new");
        await().atMost(WAIT).untilAsserted(() -> assertEquals(List.of("demo-attention-0", "demo-attention-1"), podNames()));
        assertTrue(client.v1().events().inNamespace(NS).list().getItems().stream()
                .anyMatch(e -> ExpertPoolRestart.REASON.equals(e.getReason()) && e.getMessage().startsWith("Deleted 2 expert pod(s)")));
        // The controller re-creates them on the new revision: they stay, whatever reconciles their events cause.
        statefulSetPod("demo-experts", 0, "experts-new");
        statefulSetPod("demo-experts", 1, "experts-new");
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5))
                .until(() -> podNames().size() == 4);
    }

    @Test
    void anInvalidSpecBuildsNothingAndSaysWhy() {
        MoEDeployment bad = Specs.tiny();
        MoEDeploymentSpec s = bad.getSpec();
        bad.setSpec(new MoEDeploymentSpec(s.model(), s.image(), s.attention(), DesiredStateTestAccess.withReplicas(s.experts(), 5),
                s.pipeline(), s.plan(), new PlacementSpec(new io.fabric8.kubernetes.api.model.IntOrString(1), null), s.api(), s.m2n(), s.autoscaling()));
        create(bad);
        await().atMost(WAIT).untilAsserted(() -> {
            assertEquals("False/InvalidPlacement", condition("demo", "Planned"));
            assertEquals("True/InvalidSpec", condition("demo", "Degraded"));
            assertEquals("Invalid", live("demo").getStatus().phase());
        });
        assertNull(get(StatefulSet.class, "demo-attention"), "no half-built deployment");
        assertNull(get(ConfigMap.class, "demo-plan"));
        assertNull(get(Secret.class, "demo-m2n"));
    }

    @Test
    void aCrashLoopingPodDegradesTheDeploymentWithItsLogTail() {
        create(Specs.tiny());
        await().atMost(WAIT).until(() -> get(StatefulSet.class, "demo-experts") != null);
        Pod pod = new PodBuilder().withNewMetadata().withName("demo-experts-0").withNamespace(NS)
                .withLabels(Map.of("app.kubernetes.io/managed-by", "shuttle-operator", "shuttle.io/deployment", "demo",
                        "shuttle.io/role", "expert"))
                .endMetadata()
                .withNewSpec().addNewContainer().withName("shuttle").withImage("x").endContainer().endSpec()
                .withNewStatus().addNewContainerStatus().withName("shuttle").withRestartCount(4)
                .withNewState().withNewWaiting().withReason("CrashLoopBackOff").endWaiting().endState()
                .withNewLastState().withNewTerminated().withExitCode(1).withReason("Error")
                .withMessage("loading /model\nerror: the M2N secret must be at least 16 bytes\n").endTerminated().endLastState()
                .endContainerStatus().endStatus()
                .build();
        client.resource(pod).create();
        await().atMost(WAIT).untilAsserted(() -> {
            assertEquals("True/CrashLooping", condition("demo", "Degraded"));
            String message = live("demo").getStatus().conditions().stream().filter(c -> c.getType().equals("Degraded"))
                    .findFirst().orElseThrow().getMessage();
            assertTrue(message.contains("demo-experts-0") && message.contains("at least 16 bytes"), message);
            assertEquals("Degraded", live("demo").getStatus().phase());
        });
    }
}
