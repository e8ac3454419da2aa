package io.shuttle.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.javaoperatorsdk.operator.Operator;
import io.shuttle.e2e.kube.KubeletSettings;
import io.shuttle.e2e.kube.LocalKubelet;
import io.shuttle.e2e.kube.ServiceProxy;
import io.shuttle.engine.GenerationResult;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.desired.Names;
import io.shuttle.operator.desired.TopologyResolver;
import io.shuttle.operator.planner.Planner;
import io.shuttle.operator.reconciler.MoEDeploymentReconciler;
import io.shuttle.operator.reconciler.OperatorConfig;
import io.shuttle.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * From a {@code MoEDeployment} to an answer and back, without a cluster: the operator (plain
 * JOSDK, in this JVM) against the Fabric8 mock API server in CRUD mode, and a
 * {@link LocalKubelet} that runs the StatefulSets' pods as real serving-pod processes.
 *
 * <p>The scenario: apply {@code crds/examples/tiny-cpu.yaml} with one attention pod → the
 * operator plans and creates its children → the kubelet starts the attention and expert
 * processes → the client Service answers {@code /v1/completions} with the monolithic engine's
 * greedy tokens → scale attention 1 → 2 (a merge patch, as {@code kubectl patch}) and the new pod
 * serves the same tokens → delete an expert pod: it is restarted and serving recovers → delete
 * the MoEDeployment: its children are garbage-collected and every process stops.
 */
@EnableKubernetesMockClient(crud = true)
class OperatorE2ETest {
    static final String NS = "shuttle";
    static final String NAME = "demo";
    static final int MAX_TOKENS = 8;
    static final List<int[]> PROMPTS = new ArrayList<>();

    static KubernetesClient client;
    @TempDir
    static Path tmp;
    static Operator operator;
    static LocalKubelet kubelet;
    static ServiceProxy services;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    /** The operator's settings for the mock server, which implements no server-side apply. */
    record MockServerConfig(boolean serverSideApply, Duration notReadyRecheck, Optional<String> hfDownloaderImage,
                            boolean expertsRestartTogether) implements OperatorConfig {
    }

    @BeforeAll
    static void start() {
        SplittableRandom r = new SplittableRandom(23);
        for (int len : new int[] {5, 13, 2}) {
            PROMPTS.add(r.ints(len, 3, 512).toArray());
        }
        operator = new Operator(o -> o.withKubernetesClient(client).withCloseClientOnStop(false)
                .withUseSSAToPatchPrimaryResource(false));
        operator.register(new MoEDeploymentReconciler(new MockServerConfig(false, Duration.ofSeconds(2), Optional.empty(), true),
                new TopologyResolver(new Planner()::plan), new SecureRandom(), Clock.systemUTC()), c -> c.settingNamespace(NS));
        operator.start();
        kubelet = new LocalKubelet(client, NS, KubeletSettings.forTests(Path.of(System.getProperty("shuttle.pod.jar")), tmp));
        kubelet.start();
        services = new ServiceProxy(client, kubelet, NS);
    }

    @AfterAll
    static void stop() {
        try {
            if (kubelet != null) {
                kubelet.close();
            }
        } finally {
            if (operator != null) {
                operator.stop();
            }
        }
    }

    @Test
    void fromMoEDeploymentToAnswerScaleHealAndDelete() throws Exception {
        long t0 = System.nanoTime();
        // 1. apply the tiny example, with one attention pod so that we can scale it out later
        MoEDeployment example = example(1);
        client.resource(example).inNamespace(NS).create();
        awaitTrue(Duration.ofSeconds(120), "the deployment becomes Ready", () -> "True/AllPodsReady".equals(condition("Ready")));
        assertEquals(List.of("demo-attention-0", "demo-experts-0", "demo-experts-1"), kubelet.pods());
        log("ready with 1 attention + 2 expert pods", t0);

        // 2. the client Service answers with the monolithic engine's tokens, on the checkpoint the pods made
        Path model = kubelet.volume("demo-attention-0", "model");
        List<GenerationResult> expected = Fixtures.monolithic(model, PROMPTS, MAX_TOKENS);
        try (Tokenizer tokenizer = Tokenizer.load(model)) {
            for (int i = 0; i < PROMPTS.size(); i++) {
                URI pod = services.next(NAME, "http");
                assertCompletionMatches(pod, i, expected.get(i), tokenizer);
                assertGenerateMatches(pod, i, expected.get(i));
            }
            log("answers match the monolithic engine", t0);

            // 3. scale attention 1 → 2, live: the running pods stay (no template changes, so no
            // rollout); the new pod joins the expert pods' rounds and serves the same tokens
            Map<String, String> templatesBefore = templateRevisions();
            String expertsPlanHash = planHash(NAME + "-experts");
            List<Long> runningBefore = List.of("demo-attention-0", "demo-experts-0", "demo-experts-1").stream()
                    .map(p -> kubelet.mainProcess(p).orElseThrow().pid()).toList();
            client.resources(MoEDeployment.class).inNamespace(NS).withName(NAME)
                    .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"attention\":{\"replicas\":2}}}");
            awaitTrue(Duration.ofSeconds(150), "two attention pods ready", () -> {
                MoEDeployment d = live();
                return d.getStatus() != null && d.getMetadata().getGeneration().equals(d.getStatus().observedGeneration())
                        && "True/AllPodsReady".equals(condition("Ready")) && "2/2".equals(d.getStatus().attentionReady())
                        && services.endpoints(NAME, "http").size() == 2;
            });
            assertEquals(templatesBefore, templateRevisions(), "an attention scale rolls no pod template");
            assertEquals(runningBefore, List.of("demo-attention-0", "demo-experts-0", "demo-experts-1").stream()
                    .map(p -> kubelet.mainProcess(p).orElseThrow().pid()).toList(), "the running pods were not restarted");
            assertEquals(2, planJson().get("attention").get("replicas").asInt(), "the plan has two attention pods");
            assertEquals(expertsPlanHash, planHash(NAME + "-experts"),
                    "scaling attention leaves the expert pod template's plan hash alone: expert pods accept new attention pods live");
            URI added = kubelet.podUrl("demo-attention-1", "http").orElseThrow();
            for (int i = 0; i < PROMPTS.size(); i++) {
                assertCompletionMatches(added, i, expected.get(i), tokenizer);
            }
            assertGenerateMatches(services.next(NAME, "http"), 0, expected.get(0));
            assertGenerateMatches(services.next(NAME, "http"), 1, expected.get(1));
            log("scaled to 2 attention pods; the new one serves", t0);

            // 3b. scale experts 2 → 3 while a long request decodes on attention pod 0: the operator
            // re-plans the placement, restarts the expert pool at once, the attention pods take the
            // new placement from the refreshed plan file, and the request finishes exactly
            int longTokens = 600;
            GenerationResult longExpected = Fixtures.monolithic(model, List.of(PROMPTS.get(0)), longTokens).get(0);
            long attention0 = kubelet.mainProcess("demo-attention-0").orElseThrow().pid();
            URI first = kubelet.podUrl("demo-attention-0", "http").orElseThrow();
            java.util.concurrent.CompletableFuture<HttpResponse<String>> inFlight = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return HTTP.send(HttpRequest.newBuilder(first.resolve("/v1/shuttle/generate")).timeout(Duration.ofMinutes(4))
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.ofString(Fixtures.request(List.of(PROMPTS.get(0)), longTokens)))
                            .build(), HttpResponse.BodyHandlers.ofString());
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Thread.sleep(300);
            String placementBefore = planJson().get("experts").get("placement").toString();
            client.resources(MoEDeployment.class).inNamespace(NS).withName(NAME)
                    .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"experts\":{\"replicas\":3}}}");
            awaitTrue(Duration.ofSeconds(150), "three expert pods ready on the new placement", () -> {
                MoEDeployment d = live();
                return d.getStatus() != null && d.getMetadata().getGeneration().equals(d.getStatus().observedGeneration())
                        && "True/AllPodsReady".equals(condition("Ready")) && "3/3".equals(d.getStatus().expertsReady());
            });
            assertTrue(!placementBefore.equals(planJson().get("experts").get("placement").toString()), "a new placement");
            HttpResponse<String> longDone = inFlight.get(4, java.util.concurrent.TimeUnit.MINUTES);
            assertEquals(200, longDone.statusCode(), longDone.body());
            assertArrayEquals(longExpected.generatedIds(), generatedIds(longDone),
                    "the request decoding through the expert change has the monolithic engine's tokens");
            assertEquals(attention0, kubelet.mainProcess("demo-attention-0").orElseThrow().pid(),
                    "the attention pod was not restarted by the expert change");
            assertGenerateMatches(services.next(NAME, "http"), 1, expected.get(1));
            log("scaled experts to 3 under a running request; it finished exactly", t0);

            // 4. delete an expert pod object: the StatefulSet brings it back and serving recovers
            ProcessHandle before = kubelet.mainProcess("demo-experts-1").orElseThrow();
            String uidBefore = pod("demo-experts-1").getMetadata().getUid();
            client.pods().inNamespace(NS).withName("demo-experts-1").delete();
            awaitTrue(Duration.ofSeconds(45), "the deleted pod's process stops", () -> !before.isAlive());
            awaitTrue(Duration.ofSeconds(90), "demo-experts-1 is re-created and runs", () -> {
                Pod p = pod("demo-experts-1");
                Optional<ProcessHandle> now = kubelet.mainProcess("demo-experts-1");
                return p != null && !p.getMetadata().getUid().equals(uidBefore) && now.isPresent() && now.get().pid() != before.pid();
            });
            HttpResponse<String> healed = awaitOk(Duration.ofSeconds(90), services, 2);
            assertArrayEquals(expected.get(2).generatedIds(), generatedIds(healed), "after the expert pod came back");
            awaitTrue(Duration.ofSeconds(60), "the deployment is Ready again", () -> "True/AllPodsReady".equals(condition("Ready")));
            log("expert pod deleted, restarted, serving again", t0);
        }

        // 5. delete the MoEDeployment: the children go (garbage collection by owner) and so does every process
        List<ProcessHandle> processes = kubelet.allProcesses();
        client.resources(MoEDeployment.class).inNamespace(NS).withName(NAME).delete();
        awaitTrue(Duration.ofSeconds(90), "every child deleted and every pod process stopped", () ->
                processes.stream().noneMatch(ProcessHandle::isAlive) && kubelet.pods().isEmpty()
                        && List.of(StatefulSet.class, Pod.class, ConfigMap.class, Secret.class, Service.class,
                        PodDisruptionBudget.class).stream().allMatch(t -> count(t) == 0));
        String podJar = System.getProperty("shuttle.pod.jar");
        List<ProcessHandle> leftovers = ProcessHandle.current().descendants()
                .filter(p -> p.isAlive() && p.info().commandLine().orElse("").contains(podJar)).toList();
        assertEquals(List.of(), leftovers, "no serving-pod process of this test is left");
        assertTrue(kubelet.errors().isEmpty(), "the local kubelet met errors: " + kubelet.errors());
        log("deleted; no process left", t0);
        System.out.print("OperatorE2ETest: pod timeline\n" + kubelet.timeline());
    }

    /** The committed example with {@code spec.attention.replicas} set (the rest as users apply it). */
    static MoEDeployment example(int attentionReplicas) throws Exception {
        Path file = Path.of(System.getProperty("shuttle.repo", ".."), "crds", "examples", "tiny-cpu.yaml");
        MoEDeployment d = Serialization.unmarshal(Files.readString(file), MoEDeployment.class);
        ObjectNode tree = (ObjectNode) Fixtures.JSON.readTree(Serialization.asJson(d));
        ((ObjectNode) tree.get("spec").get("attention")).put("replicas", attentionReplicas);
        ((ObjectNode) tree.get("metadata")).put("namespace", NS);
        return Serialization.unmarshal(tree.toString(), MoEDeployment.class);
    }

    /** {@code /v1/completions} with token ids, greedy: the chosen tokens (logprobs) and their count match. */
    static void assertCompletionMatches(URI pod, int i, GenerationResult expected, Tokenizer tokenizer) throws Exception {
        ObjectNode body = Fixtures.JSON.createObjectNode();
        ArrayNode prompt = body.putArray("prompt");
        for (int t : PROMPTS.get(i)) {
            prompt.add(t);
        }
        body.put("max_tokens", MAX_TOKENS).put("temperature", 0).put("ignore_eos", true).put("logprobs", 0);
        HttpResponse<String> r = post(pod.resolve("/v1/completions"), body.toString());
        assertEquals(200, r.statusCode(), () -> "prompt " + i + " at " + pod + ": " + r.body() + "\n" + kubelet.describe());
        JsonNode answer = Fixtures.JSON.readTree(r.body());
        assertEquals(MAX_TOKENS, answer.get("usage").get("completion_tokens").asInt(), r.body());
        List<String> tokens = new ArrayList<>();
        answer.get("choices").get(0).get("logprobs").get("tokens").forEach(t -> tokens.add(t.asText()));
        List<String> want = new ArrayList<>();
        for (int id : expected.generatedIds()) {
            want.add(tokenizer.decode(new int[] {id}, false));
        }
        assertEquals(want, tokens, "prompt " + i + " at " + pod + ": the completion's tokens");
        assertEquals(tokenizer.decode(expected.generatedIds(), false), answer.get("choices").get(0).get("text").asText());
    }

    /** {@code /v1/shuttle/generate}: the generated token ids themselves. */
    static void assertGenerateMatches(URI pod, int i, GenerationResult expected) throws Exception {
        HttpResponse<String> r = post(pod.resolve("/v1/shuttle/generate"), Fixtures.request(List.of(PROMPTS.get(i)), MAX_TOKENS));
        assertEquals(200, r.statusCode(), () -> "prompt " + i + " at " + pod + ": " + r.body() + "\n" + kubelet.describe());
        assertArrayEquals(expected.generatedIds(), generatedIds(r), "prompt " + i + " at " + pod);
    }

    static int[] generatedIds(HttpResponse<String> r) throws Exception {
        return Fixtures.ids(Fixtures.JSON.readTree(r.body()).get("results").get(0).get("generated_ids"));
    }

    /** Retries prompt {@code i} through the Service until it answers 200 (bounded): serving recovers. */
    static HttpResponse<String> awaitOk(Duration within, ServiceProxy via, int i) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        String last = "no attempt";
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<String> r = post(via.next(NAME, "http").resolve("/v1/shuttle/generate"),
                        Fixtures.request(List.of(PROMPTS.get(i)), MAX_TOKENS));
                if (r.statusCode() == 200) {
                    return r;
                }
                last = r.statusCode() + " " + r.body();
            } catch (Exception e) {
                last = e.toString();
            }
            Thread.sleep(500);
        }
        return fail("no 200 within " + within + "; last answer: " + last + "\n" + kubelet.describe());
    }

    static HttpResponse<String> post(URI uri, String json) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static void awaitTrue(Duration within, String what, Callable<Boolean> check) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        Exception lastError = null;
        while (System.nanoTime() < deadline) {
            try {
                if (Boolean.TRUE.equals(check.call())) {
                    return;
                }
                lastError = null;
            } catch (Exception e) {
                lastError = e;
            }
            Thread.sleep(250);
        }
        MoEDeployment d = live();
        fail("not within " + within + ": " + what + (lastError == null ? "" : " (last error: " + lastError + ")")
                + "\nstatus: " + (d == null ? "deleted" : Serialization.asJson(d.getStatus())) + "\n" + kubelet.describe());
    }

    static MoEDeployment live() {
        return client.resources(MoEDeployment.class).inNamespace(NS).withName(NAME).get();
    }

    /** Each StatefulSet's pod template, as the revision name the kubelet gives it. */
    static Map<String, String> templateRevisions() {
        Map<String, String> out = new TreeMap<>();
        for (StatefulSet set : client.apps().statefulSets().inNamespace(NS).list().getItems()) {
            out.put(set.getMetadata().getName(), LocalKubelet.revision(set.getMetadata().getName(), set.getSpec().getTemplate()));
        }
        return out;
    }

    /** The plan-hash annotation on a StatefulSet's pod template, as the API server holds it. */
    static String planHash(String statefulSet) {
        return client.apps().statefulSets().inNamespace(NS).withName(statefulSet).get().getSpec().getTemplate()
                .getMetadata().getAnnotations().get(Names.ANNOTATION_PLAN_HASH);
    }

    static Pod pod(String name) {
        return client.pods().inNamespace(NS).withName(name).get();
    }

    static String condition(String type) {
        MoEDeployment d = live();
        if (d == null || d.getStatus() == null || d.getStatus().conditions() == null) {
            return null;
        }
        return d.getStatus().conditions().stream().filter(c -> c.getType().equals(type)).findFirst()
                .map(c -> c.getStatus() + "/" + c.getReason()).orElse(null);
    }

    static JsonNode planJson() throws Exception {
        ConfigMap cm = client.configMaps().inNamespace(NS).withName(NAME + "-plan").get();
        return Fixtures.JSON.readTree(cm.getData().get("plan.json"));
    }

    static int count(Class<? extends HasMetadata> type) {
        return client.resources(type).inNamespace(NS).list().getItems().size();
    }

    static void log(String step, long t0) {
        System.out.printf("OperatorE2ETest: %-50s at %5.1f s%n", step, (System.nanoTime() - t0) / 1e9);
    }
}
