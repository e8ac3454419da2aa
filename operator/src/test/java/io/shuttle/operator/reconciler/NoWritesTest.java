package io.shuttle.operator.reconciler;

import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.shuttle.operator.Specs;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.api.MoEDeploymentSpec;
import io.shuttle.operator.desired.TopologyResolver;
import io.shuttle.operator.planner.Planner;
import org.junit.jupiter.api.Test;

import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reconciling an unchanged deployment writes nothing; a change writes only what it changes. */
@EnableKubernetesMockClient(crud = true)
class NoWritesTest {
    KubernetesMockServer server;
    KubernetesClient client;

    private final MoEDeploymentReconciler reconciler = new MoEDeploymentReconciler(TestConfig.mock(),
            new TopologyResolver(new Planner()::plan), new SecureRandom(), Clock.systemUTC());

    /** Method and path of every request since the last call. */
    private List<String> drain() throws InterruptedException {
        List<String> requests = new ArrayList<>();
        RecordedRequest r;
        while ((r = server.takeRequest(50, TimeUnit.MILLISECONDS)) != null) {
            requests.add(r.getMethod() + " " + r.getPath());
        }
        return requests;
    }

    private static List<String> writes(List<String> requests) {
        return requests.stream().filter(r -> !r.startsWith("GET ")).toList();
    }

    private PodTemplateSpec attentionTemplate() {
        return client.apps().statefulSets().inNamespace("shuttle").withName("demo-attention").get().getSpec().getTemplate();
    }

    @Test
    void hundredReconcilesOfAnUnchangedDeploymentWriteNothing() throws Exception {
        MoEDeployment d = Specs.tiny();
        ClientChildStore store = new ClientChildStore(client, "shuttle", false);
        reconciler.apply(d, store);
        List<String> first = writes(drain());
        assertEquals(9, first.size(), "first reconcile creates the 9 children: " + first);
        assertTrue(first.stream().allMatch(w -> w.startsWith("POST ")), first.toString());

        for (int i = 0; i < 100; i++) {
            assertTrue(reconciler.apply(d, store) instanceof StatusAggregator.Outcome.Applied);
        }
        List<String> after = drain();
        assertEquals(List.of(), writes(after), "an unchanged deployment must cost no writes");
        assertTrue(after.size() >= 100 * 9, "the reconciles did read the children: " + after.size());
    }

    @Test
    void scalingAttentionRewritesThePlanFirstThenOnlyTheAttentionStatefulSet() throws Exception {
        MoEDeployment d = Specs.tiny();
        ClientChildStore store = new ClientChildStore(client, "shuttle", false);
        reconciler.apply(d, store);
        drain();
        PodTemplateSpec template = attentionTemplate();
        MoEDeploymentSpec s = d.getSpec();
        d.setSpec(new MoEDeploymentSpec(s.model(), s.image(),
                io.shuttle.operator.desired.DesiredStateTestAccess.withReplicas(s.attention(), 3), s.experts(),
                s.pipeline(), s.plan(), s.placement(), s.api(), s.m2n(), s.autoscaling()));
        reconciler.apply(d, store);
        List<String> w = writes(drain());
        // The plan goes first, so the pod the scale-out adds finds itself in it; the expert
        // StatefulSet is untouched (its pods accept new attention pods while running).
        assertEquals(List.of(
                "PUT /api/v1/namespaces/shuttle/configmaps/demo-plan",
                "PUT /apis/apps/v1/namespaces/shuttle/statefulsets/demo-attention"), w);
        assertEquals(3, client.apps().statefulSets().inNamespace("shuttle").withName("demo-attention").get().getSpec()
                .getReplicas());
        PodTemplateSpec now = attentionTemplate();
        assertEquals(template.getMetadata().getAnnotations(), now.getMetadata().getAnnotations());
        assertTrue(template.equals(now), "only the count changed: no attention pod restarts");
        reconciler.apply(d, store);
        assertEquals(List.of(), writes(drain()));
    }
}
