package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSetStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.shuttle.operator.Specs;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.api.MoEDeploymentSpec;
import io.shuttle.operator.desired.DesiredStateTestAccess;
import io.shuttle.operator.desired.Names;
import io.shuttle.operator.desired.Role;
import io.shuttle.operator.desired.TopologyResolver;
import io.shuttle.operator.planner.Planner;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An expert template change restarts the whole expert pool at once, on the Fabric8 mock API
 * server (CRUD). The mock has no StatefulSet controller, so the tests play it: they write the
 * StatefulSets' status revisions and create the pods with their {@code controller-revision-hash}.
 * One server for the class; each test works in its own namespace.
 */
@EnableKubernetesMockClient(crud = true)
class ExpertPoolRestartTest {
    static final String OLD = "demo-experts-5d8f7c6b9a";
    static final String NEW = "demo-experts-7e1a2b3c4d";
    static final String ATTENTION_OLD = "demo-attention-1a2b3c4d5e";
    static final String ATTENTION_NEW = "demo-attention-6f7a8b9c0d";
    static final Instant NOW = Instant.parse("2026-12-01T10:00:00.123456789Z");
    static KubernetesMockServer server;
    static KubernetesClient client;

    private String ns;
    private ClientChildStore store;

    @BeforeEach
    void namespace(org.junit.jupiter.api.TestInfo test) throws InterruptedException {
        ns = "r" + Integer.toHexString(test.getDisplayName().hashCode());
        store = new ClientChildStore(client, ns, false);
        drain();
    }

    private static MoEDeploymentReconciler reconciler(boolean restartTogether) {
        return new MoEDeploymentReconciler(TestConfig.mock().withExpertsRestartTogether(restartTogether),
                new TopologyResolver(new Planner()::plan), new SecureRandom(), Clock.fixed(NOW, ZoneOffset.UTC));
    }

    private static List<RecordedRequest> drain() throws InterruptedException {
        List<RecordedRequest> requests = new ArrayList<>();
        RecordedRequest r;
        while ((r = server.takeRequest(20, TimeUnit.MILLISECONDS)) != null) {
            requests.add(r);
        }
        return requests;
    }

    /** Method and path of the writes since the last call, the namespace written as NS. */
    private List<String> writes() throws InterruptedException {
        return drain().stream().filter(r -> !r.getMethod().equals("GET"))
                .map(r -> r.getMethod() + " " + r.getPath().replace("/namespaces/" + ns + "/", "/NS/")).toList();
    }

    private MoEDeployment tiny(int experts) {
        MoEDeployment d = Specs.example("tiny-cpu.yaml", ns);
        return withExperts(d, experts);
    }

    private static MoEDeployment withExperts(MoEDeployment d, int experts) {
        MoEDeploymentSpec s = d.getSpec();
        d.setSpec(new MoEDeploymentSpec(s.model(), s.image(), s.attention(), DesiredStateTestAccess.withReplicas(s.experts(), experts),
                s.pipeline(), s.plan(), s.placement(), s.api(), s.m2n(), s.autoscaling()));
        return d;
    }

    private StatefulSet set(Role role) {
        return client.apps().statefulSets().inNamespace(ns).withName(Names.statefulSet("demo", role)).get();
    }

    /** Plays the StatefulSet controller's status: it has seen the latest template, rolling {@code current} → {@code update}. */
    private void controllerStatus(Role role, String current, String update, boolean observedLatest) {
        StatefulSet s = set(role);
        long generation = Optional.ofNullable(s.getMetadata().getGeneration()).orElse(1L);
        s.setStatus(new StatefulSetStatusBuilder().withReplicas(s.getSpec().getReplicas())
                .withObservedGeneration(observedLatest ? generation : generation - 1)
                .withCurrentRevision(current).withUpdateRevision(update).build());
        client.resource(s).updateStatus();
    }

    /** A pod of a StatefulSet as its controller makes it: the template's labels, the revision label, the owner. */
    private void pod(Role role, int ordinal, String revision) {
        StatefulSet s = set(role);
        Map<String, String> labels = new LinkedHashMap<>(s.getSpec().getTemplate().getMetadata().getLabels());
        labels.put(ExpertPoolRestart.REVISION_LABEL, revision);
        labels.put("apps.kubernetes.io/pod-index", Integer.toString(ordinal));
        client.resource(new PodBuilder()
                .withMetadata(new ObjectMetaBuilder().withName(s.getMetadata().getName() + "-" + ordinal).withNamespace(ns)
                        .withLabels(labels)
                        .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("apps/v1").withKind("StatefulSet")
                                .withName(s.getMetadata().getName()).withUid(s.getMetadata().getUid()).withController(true)
                                .build())
                        .build())
                .withSpec(s.getSpec().getTemplate().getSpec())
                .build()).inNamespace(ns).create();
    }

    private List<String> podNames() {
        return client.pods().inNamespace(ns).list().getItems().stream().map(p -> p.getMetadata().getName()).sorted().toList();
    }

    private List<Event> events() {
        return client.v1().events().inNamespace(ns).list().getItems().stream()
                .filter(e -> ExpertPoolRestart.REASON.equals(e.getReason())).toList();
    }

    /**
     * A deployment with 3 expert pods and 2 attention pods on their first revisions; then the
     * expert count goes to 4 (a new placement: the experts' template changes) and the controller
     * starts rolling both sets, the new expert ordinal already up on the new revision.
     */
    private MoEDeployment rollingFromThreeToFourExperts(MoEDeploymentReconciler reconciler) throws InterruptedException {
        MoEDeployment d = tiny(3);
        reconciler.apply(d, store);
        controllerStatus(Role.EXPERTS, OLD, OLD, true);
        controllerStatus(Role.ATTENTION, ATTENTION_OLD, ATTENTION_OLD, true);
        for (int i = 0; i < 3; i++) {
            pod(Role.EXPERTS, i, OLD);
        }
        pod(Role.ATTENTION, 0, ATTENTION_OLD);
        pod(Role.ATTENTION, 1, ATTENTION_OLD);
        drain();
        reconciler.apply(d, store);
        assertEquals(List.of(), writes(), "no roll, no restart");

        d = withExperts(d, 4);
        String template = set(Role.EXPERTS).getSpec().getTemplate().getMetadata().getAnnotations().get(Names.ANNOTATION_PLAN_HASH);
        reconciler.apply(d, store);
        assertTrue(!template.equals(set(Role.EXPERTS).getSpec().getTemplate().getMetadata().getAnnotations()
                .get(Names.ANNOTATION_PLAN_HASH)), "the expert template changed");
        // The controller has seen it: the experts roll to NEW; the attention set rolls too (another
        // change, as an image change would), to show that its pods are left to the controller.
        controllerStatus(Role.EXPERTS, OLD, NEW, true);
        controllerStatus(Role.ATTENTION, ATTENTION_OLD, ATTENTION_NEW, true);
        pod(Role.EXPERTS, 3, NEW);
        drain();
        return d;
    }

    @Test
    void aNewPlacementDeletesEveryOldExpertPodInOneReconcileAndNothingMoreAfter() throws Exception {
        MoEDeploymentReconciler reconciler = reconciler(true);
        MoEDeployment d = rollingFromThreeToFourExperts(reconciler);

        reconciler.apply(d, store);
        List<String> w = writes();
        assertEquals(List.of(
                "DELETE /api/v1/NS/pods/demo-experts-0",
                "DELETE /api/v1/NS/pods/demo-experts-1",
                "DELETE /api/v1/NS/pods/demo-experts-2",
                "POST /api/v1/NS/events"), w);
        assertEquals(List.of("demo-attention-0", "demo-attention-1", "demo-experts-3"), podNames(),
                "the pod already on the new revision and the attention pods stay");
        Event event = events().getFirst();
        assertEquals("Normal", event.getType());
        assertEquals("MoEDeployment", event.getInvolvedObject().getKind());
        assertEquals("demo", event.getInvolvedObject().getName());
        assertTrue(event.getMessage().startsWith("Deleted 3 expert pod(s) demo-experts-0, demo-experts-1, demo-experts-2 (revision "
                + OLD + ")"), event.getMessage());
        assertTrue(event.getMessage().contains("at revision " + NEW), event.getMessage());
        assertEquals("2026-12-01T10:00:00Z", event.getFirstTimestamp());

        // The controller re-creates them at the update revision; reconciles delete nothing more.
        for (int i = 0; i < 3; i++) {
            pod(Role.EXPERTS, i, NEW);
        }
        drain();
        for (int i = 0; i < 3; i++) {
            reconciler.apply(d, store);
        }
        assertEquals(List.of(), writes(), "pods on the update revision are left alone");
        assertEquals(1, events().size());
    }

    @Test
    void anOperatorStoppedHalfWayFinishesTheRestartAndNeverTouchesTerminatingPods() throws Exception {
        MoEDeploymentReconciler reconciler = reconciler(true);
        MoEDeployment d = rollingFromThreeToFourExperts(reconciler);
        // As if a previous operator deleted pod 0 and crashed: it is back on the new revision.
        client.pods().inNamespace(ns).withName("demo-experts-0").delete();
        pod(Role.EXPERTS, 0, NEW);
        drain();

        reconciler.apply(d, store);
        assertEquals(List.of(
                "DELETE /api/v1/NS/pods/demo-experts-1",
                "DELETE /api/v1/NS/pods/demo-experts-2",
                "POST /api/v1/NS/events"), writes());
        reconciler.apply(d, store);
        assertEquals(List.of(), writes());
    }

    @Test
    void theRestartWaitsForTheControllerToSeeTheNewTemplate() throws Exception {
        MoEDeploymentReconciler reconciler = reconciler(true);
        MoEDeployment d = rollingFromThreeToFourExperts(reconciler);
        // Until status.observedGeneration catches up, status.updateRevision is the previous
        // template's: restarting pods to it would restart them twice.
        controllerStatus(Role.EXPERTS, OLD, NEW, false);
        drain();
        reconciler.apply(d, store);
        assertEquals(List.of(), writes());
        assertEquals(6, podNames().size());
    }

    @Test
    void switchedOffTheControllersRollIsLeftAlone() throws Exception {
        MoEDeploymentReconciler reconciler = reconciler(false);
        MoEDeployment d = rollingFromThreeToFourExperts(reconciler);
        reconciler.apply(d, store);
        reconciler.apply(d, store);
        assertEquals(List.of(), writes());
        assertEquals(List.of("demo-attention-0", "demo-attention-1", "demo-experts-0", "demo-experts-1", "demo-experts-2",
                "demo-experts-3"), podNames());
        assertEquals(List.of(), events());
    }

    // ---- the decision itself, without a server ----

    private static StatefulSet experts(String current, String update, long generation, long observed) {
        return new StatefulSetBuilder()
                .withNewMetadata().withName("demo-experts").withUid("uid-set").withGeneration(generation).endMetadata()
                .withNewSpec().withNewSelector().withMatchLabels(Names.selector("demo", Role.EXPERTS)).endSelector()
                .withNewUpdateStrategy().withType("RollingUpdate").endUpdateStrategy().endSpec()
                .withNewStatus().withCurrentRevision(current).withUpdateRevision(update).withObservedGeneration(observed)
                .endStatus()
                .build();
    }

    private static Pod expertPod(String name, String revision, String ownerUid, boolean terminating) {
        return new PodBuilder().withNewMetadata().withName(name)
                .withLabels(Map.of(ExpertPoolRestart.REVISION_LABEL, revision))
                .withOwnerReferences(new OwnerReferenceBuilder().withKind("StatefulSet").withName("demo-experts")
                        .withUid(ownerUid).withController(true).build())
                .withDeletionTimestamp(terminating ? "2026-12-01T10:00:00Z" : null)
                .endMetadata().build();
    }

    @Test
    void onlyPodsOfThisSetOnAnotherRevisionAndNotTerminatingAreRestarted() {
        StatefulSet set = experts(OLD, NEW, 3, 3);
        List<Pod> pods = List.of(
                expertPod("demo-experts-0", OLD, "uid-set", false),
                expertPod("demo-experts-1", OLD, "uid-set", true),
                expertPod("demo-experts-2", NEW, "uid-set", false),
                expertPod("demo-experts-3", OLD, "uid-another-set", false),
                new PodBuilder().withNewMetadata().withName("stray").withLabels(Map.of(ExpertPoolRestart.REVISION_LABEL, OLD))
                        .endMetadata().build());
        assertEquals(List.of("demo-experts-0"),
                ExpertPoolRestart.outdated(set, NEW, pods).stream().map(p -> p.getMetadata().getName()).toList());
    }

    @Test
    void theTargetRevisionIsKnownOnlyOnceTheControllerHasSeenTheTemplate() {
        assertEquals(Optional.of(NEW), ExpertPoolRestart.rollingTo(experts(OLD, NEW, 3, 3)));
        assertEquals(Optional.empty(), ExpertPoolRestart.rollingTo(experts(OLD, NEW, 4, 3)), "observedGeneration behind");
        // Revisions equal: a finished roll, or one rolled back half-way (its pods on the other revision get restarted).
        assertEquals(Optional.of(OLD), ExpertPoolRestart.rollingTo(experts(OLD, OLD, 3, 3)));
        StatefulSet noStatus = experts(OLD, NEW, 3, 3);
        noStatus.setStatus(null);
        assertEquals(Optional.empty(), ExpertPoolRestart.rollingTo(noStatus));
        StatefulSet partitioned = new StatefulSetBuilder(experts(OLD, NEW, 3, 3)).editSpec().editUpdateStrategy()
                .withNewRollingUpdate().withPartition(2).endRollingUpdate().endUpdateStrategy().endSpec().build();
        assertEquals(Optional.empty(), ExpertPoolRestart.rollingTo(partitioned), "a hand-staged roll is left alone");
        StatefulSet noSelector = new StatefulSetBuilder(experts(OLD, NEW, 3, 3)).editSpec().withNewSelector().endSelector()
                .endSpec().build();
        assertEquals(Optional.empty(), ExpertPoolRestart.rollingTo(noSelector), "an empty selector would select every pod");
    }
}
