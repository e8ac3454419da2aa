package io.shuttle.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import io.shuttle.engine.GenerationResult;
import io.shuttle.serve.LocalCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Plan changes on a running deployment, with a long request decoding through them; every
 * process is real, talking M2N over loopback. The request must finish with exactly the
 * monolithic engine's tokens: nothing in flight is lost.
 * <ul>
 *   <li>attention scale-out is live: a new attention process joins, the expert processes start
 *       aggregating its rows without restarting, and it serves; scale-in is too: the process
 *       drains and leaves, and the expert processes stop waiting for it;</li>
 *   <li>an expert count change with a new placement rolls the expert processes, and the attention
 *       process picks the new placement up from the plan file without restarting.</li>
 * </ul>
 */
class LivePlanChangeE2ETest {

    private static final int[] PROMPT = {1, 40, 41, 42, 43, 44};
    private static final int TOKENS = 1500;

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void attentionScaleOutAndInAreLive() throws Exception {
        Path model = Fixtures.tinyModel(tmp.resolve("tiny"));
        List<GenerationResult> expected = Fixtures.monolithic(model, List.of(PROMPT), TOKENS);
        // No warm-up: addAttention returns once the new pod is ready, and a warm-up of several
        // seconds would outlast the long request that must span the join.
        var spec = new LocalCluster.Spec(model, 1, 2, 2, "tcp", 1, false, null, 4).withWarmup(Duration.ZERO);
        try (LocalCluster cluster = LocalCluster.start(spec, Duration.ofSeconds(90))) {
            List<Long> expertPids = cluster.expertPods().stream().map(p -> p.process().pid()).toList();
            CompletableFuture<HttpResponse<String>> inFlight = longRequest(cluster, 0);
            Thread.sleep(500);
            assertTrue(!inFlight.isDone(), "the long request should still be decoding");

            LocalCluster.Pod added = cluster.addAttention(Duration.ofSeconds(90));
            assertTrue(!inFlight.isDone(), "the long request spans the join");
            HttpResponse<String> fromNew = cluster.generate(1, Fixtures.request(List.of(PROMPT), 16), Duration.ofSeconds(60));
            assertEquals(200, fromNew.statusCode(), fromNew.body());
            assertArrayEquals(java.util.Arrays.copyOf(expected.get(0).generatedIds(), 16), ids(fromNew),
                    "the new attention process serves the monolithic engine's tokens");

            assertExact(expected, inFlight);
            assertEquals(expertPids, cluster.expertPods().stream().map(p -> p.process().pid()).toList(),
                    "the expert processes were not restarted");
            for (LocalCluster.Pod e : cluster.expertPods()) {
                JsonNode h = json(e.url() + "/health");
                System.out.println("expert " + e.ordinal() + " " + json(e.url() + "/stats"));
                assertEquals(2, h.get("attention_nodes").size(), "expert " + e.ordinal() + " aggregates both: " + h);
            }
            assertTrue(added.process().isAlive());

            // Scale-in: the added process drains and leaves while the first one decodes another long request.
            CompletableFuture<HttpResponse<String>> second = longRequest(cluster, 0);
            Thread.sleep(300);
            cluster.removeAttention(Duration.ofSeconds(30));
            assertTrue(!second.isDone(), "the long request spans the leave");
            assertExact(expected, second);
            for (LocalCluster.Pod e : cluster.expertPods()) {
                JsonNode h = json(e.url() + "/health");
                assertEquals(1, h.get("attention_nodes").size(), "expert " + e.ordinal() + " dropped the leaver: " + h);
            }
            assertEquals(expertPids, cluster.expertPods().stream().map(p -> p.process().pid()).toList(),
                    "the expert processes were not restarted");
        }
    }

    @Test
    void expertCountChangeRollsExpertsAndAttentionPicksUpThePlacement() throws Exception {
        Path model = Fixtures.tinyModel(tmp.resolve("tiny"));
        List<GenerationResult> expected = Fixtures.monolithic(model, List.of(PROMPT), TOKENS);
        var spec = new LocalCluster.Spec(model, 1, 2, 2, "tcp", 1, false, null, 4).withWarmup(Duration.ZERO);
        try (LocalCluster cluster = LocalCluster.start(spec, Duration.ofSeconds(90))) {
            long attentionPid = cluster.attentionPods().get(0).process().pid();
            CompletableFuture<HttpResponse<String>> inFlight = longRequest(cluster, 0);
            Thread.sleep(500);
            assertTrue(!inFlight.isDone(), "the long request should still be decoding");

            // 2 expert pods → 3, every expert moves: (0 2) (1 3) becomes (0 1) (2) (3).
            cluster.changePlacement(List.of(List.of(0, 1), List.of(2), List.of(3)), Duration.ofSeconds(90));
            assertTrue(!inFlight.isDone(), "the long request spans the whole change");

            assertExact(expected, inFlight);
            assertEquals(attentionPid, cluster.attentionPods().get(0).process().pid(), "the attention process kept running");
            JsonNode h = json(cluster.attentionPods().get(0).url() + "/health");
            assertEquals(3, h.get("expert_pods").asInt(), "the attention process routes to the new pool: " + h);
            HttpResponse<String> after = cluster.generate(0, Fixtures.request(List.of(PROMPT), 16), Duration.ofSeconds(60));
            assertEquals(200, after.statusCode(), after.body());
            assertArrayEquals(java.util.Arrays.copyOf(expected.get(0).generatedIds(), 16), ids(after));
            String log = Files.readString(cluster.attentionPods().get(0).log());
            assertTrue(log.contains("new expert pool from the plan file: 3 pods"), "the attention log says so");
            assertTrue(log.contains("step failed"), "the roll did interrupt steps, and the request outlived it");
            System.out.println("attention log during the change:\n" + log.lines()
                    .filter(l -> l.contains("step") || l.contains("expert pool")).limit(20).reduce("", (a, b) -> a + b + "\n"));
        }
    }

    private static CompletableFuture<HttpResponse<String>> longRequest(LocalCluster cluster, int attention) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return cluster.generate(attention, Fixtures.request(List.of(PROMPT), TOKENS), Duration.ofMinutes(4));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static void assertExact(List<GenerationResult> expected, CompletableFuture<HttpResponse<String>> inFlight)
            throws Exception {
        HttpResponse<String> done = inFlight.get(4, TimeUnit.MINUTES);
        assertEquals(200, done.statusCode(), done.body());
        assertArrayEquals(expected.get(0).generatedIds(), ids(done), "the in-flight request's tokens through the change");
    }

    private static int[] ids(HttpResponse<String> r) throws Exception {
        return Fixtures.ids(Fixtures.JSON.readTree(r.body()).get("results").get(0).get("generated_ids"));
    }

    private JsonNode json(String url) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        return Fixtures.JSON.readTree(r.body());
    }
}
