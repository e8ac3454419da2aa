package io.shuttle.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import io.shuttle.engine.GenerationResult;
import io.shuttle.serve.LocalCluster;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The central correctness check of the disaggregated runtime: real attention and expert
 * processes on loopback, talking M2N, give exactly the monolithic engine's greedy ids.
 */
class LocalClusterE2ETest {

    @TempDir
    static Path tmp;
    static Path model;
    static final List<int[]> PROMPTS = new ArrayList<>();
    static final int MAX_TOKENS = 10;
    static List<GenerationResult> expected;

    @BeforeAll
    static void setUp() {
        model = Fixtures.tinyModel(tmp.resolve("tiny"));
        SplittableRandom r = new SplittableRandom(17);
        for (int len : new int[] {3, 21, 1, 9, 14, 6}) {
            PROMPTS.add(r.ints(len, 3, 512).toArray());
        }
        expected = Fixtures.monolithic(model, PROMPTS, MAX_TOKENS);
    }

    static LocalCluster.Spec spec(int attention, int experts, int microBatches, String transport, boolean replicate) {
        return new LocalCluster.Spec(model, attention, experts, microBatches, transport, 1, replicate, null, 4);
    }

    /** Sends prompt i to attention pod i mod A, all at once, and checks every result against the monolithic engine. */
    static void assertMatchesMonolithic(LocalCluster cluster) throws Exception {
        int pods = cluster.attentionPods().size();
        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        for (int i = 0; i < PROMPTS.size(); i++) {
            String body = Fixtures.request(List.of(PROMPTS.get(i)), MAX_TOKENS);
            int pod = i % pods;
            answers.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return cluster.generate(pod, body, Duration.ofMinutes(2));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        for (int i = 0; i < PROMPTS.size(); i++) {
            HttpResponse<String> r = answers.get(i).get();
            assertEquals(200, r.statusCode(), r.body());
            JsonNode result = Fixtures.JSON.readTree(r.body()).get("results").get(0);
            assertArrayEquals(expected.get(i).generatedIds(), Fixtures.ids(result.get("generated_ids")),
                    "prompt " + i + " (" + PROMPTS.get(i).length + " tokens)");
        }
    }

    /**
     * The cluster is handed out once every attention pod's warm-up has ended (PodWarmup), and the
     * warm-up's requests are gone: no running or waiting requests, every KV block free.
     */
    static void assertWarmedUpAndEmpty(LocalCluster cluster) throws Exception {
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        for (LocalCluster.Pod pod : cluster.attentionPods()) {
            JsonNode health = Fixtures.JSON.readTree(LocalLauncher.get(http, pod.url() + "/health").body());
            String warmUp = health.path("warm_up").asText();
            org.junit.jupiter.api.Assertions.assertTrue(warmUp.equals("settled") || warmUp.equals("time_limit"),
                    "attention pod " + pod.ordinal() + ": " + health);
            assertEquals("ready", health.path("status").asText(), health.toString());
            assertEquals(0, health.path("running").asInt() + health.path("waiting").asInt(), health.toString());
            assertEquals(health.path("kv_blocks_total").asInt(), health.path("kv_blocks_free").asInt(), health.toString());
        }
    }

    @Test
    void twoAttentionTwoExpertsTwoMicroBatches() throws Exception {
        try (LocalCluster cluster = LocalCluster.start(spec(2, 2, 2, "tcp", false), Duration.ofSeconds(90))) {
            assertWarmedUpAndEmpty(cluster);
            assertMatchesMonolithic(cluster); // after the warm-up's batches went through the same pods
            // Prompts arriving while others decode: a long request, then the others join its batch.
            String longBody = Fixtures.request(List.of(PROMPTS.get(1)), 60);
            CompletableFuture<HttpResponse<String>> longOne = CompletableFuture.supplyAsync(() -> {
                try {
                    return cluster.generate(0, longBody, Duration.ofMinutes(2));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Thread.sleep(300);
            assertMatchesMonolithic(cluster);
            HttpResponse<String> r = longOne.get();
            assertEquals(200, r.statusCode(), r.body());
            int[] ids = Fixtures.ids(Fixtures.JSON.readTree(r.body()).get("results").get(0).get("generated_ids"));
            int[] first = java.util.Arrays.copyOf(ids, MAX_TOKENS);
            assertArrayEquals(expected.get(1).generatedIds(), first, "the long request's first tokens");
        }
    }

    @Test
    void threeMicroBatchesWithReplicatedExpertsOverUcx() throws Exception {
        // transport auto: UCX where libucx loads (CI installs it), TCP otherwise.
        // No warm-up here (seconds on a 2-core runner): the test above covers it.
        try (LocalCluster cluster = LocalCluster.start(spec(2, 2, 3, "auto", true).withWarmup(Duration.ZERO),
                Duration.ofSeconds(90))) {
            assertMatchesMonolithic(cluster);
        }
    }
}
