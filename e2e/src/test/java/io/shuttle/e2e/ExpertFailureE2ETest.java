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
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An expert process is killed (SIGKILL) while a request decodes: the request waits (its steps
 * are retried, its KV cache kept) instead of failing, the attention process stays up and reports
 * not ready, and once the expert process is started again the request finishes with exactly the
 * monolithic engine's tokens, and no KV block leaks.
 */
class ExpertFailureE2ETest {

    @TempDir
    Path tmp;

    @Test
    void killAnExpertThenRestartItWhileARequestWaits() throws Exception {
        Path model = Fixtures.tinyModel(tmp.resolve("tiny"));
        int[] prompt = {1, 40, 41, 42, 43, 44};
        int tokens = 1500;
        List<GenerationResult> expected = Fixtures.monolithic(model, List.of(prompt), tokens);
        var spec = new LocalCluster.Spec(model, 1, 2, 2, "tcp", 1, false, null, 4).withWarmup(Duration.ZERO);
        HttpClient http = HttpClient.newHttpClient();
        try (LocalCluster cluster = LocalCluster.start(spec, Duration.ofSeconds(90))) {
            // A long generation, so the kill lands mid-decode.
            CompletableFuture<HttpResponse<String>> inFlight = CompletableFuture.supplyAsync(() -> {
                try {
                    return cluster.generate(0, Fixtures.request(List.of(prompt), tokens), Duration.ofMinutes(3));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Thread.sleep(1000);
            assertTrue(!inFlight.isDone(), "the long request should still be decoding: " + (inFlight.isDone() ? inFlight.get().body() : ""));
            cluster.expertPods().get(1).process().destroyForcibly();
            Thread.sleep(3000);
            assertTrue(!inFlight.isDone(), "the request waits for the expert pod instead of failing: "
                    + (inFlight.isDone() ? inFlight.get().body() : ""));
            JsonNode health = health(http, cluster.attentionPods().get(0).url());
            assertEquals("ready", health.get("status").asText(), "the attention process stays up");
            assertEquals(503, http.send(HttpRequest.newBuilder(URI.create(cluster.attentionPods().get(0).url()
                    + "/q/health/ready")).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString())
                    .statusCode(), "not ready while an expert pod is missing");

            cluster.restartExpert(1, Duration.ofSeconds(90));
            HttpResponse<String> done = inFlight.get(3, java.util.concurrent.TimeUnit.MINUTES);
            assertEquals(200, done.statusCode(), done.body());
            int[] ids = Fixtures.ids(Fixtures.JSON.readTree(done.body()).get("results").get(0).get("generated_ids"));
            assertArrayEquals(expected.get(0).generatedIds(), ids, "the waiting request's tokens, before and after the outage");

            HttpResponse<String> again = generateWithRetry(cluster, Fixtures.request(List.of(prompt), 8));
            assertEquals(200, again.statusCode(), again.body());
            JsonNode after = health(http, cluster.attentionPods().get(0).url());
            assertEquals(after.get("kv_blocks_total").asInt(), after.get("kv_blocks_free").asInt(), "no KV block leaked");
        }
    }

    /** The first request after a restart may race the expert's resynchronisation; retry a few times, bounded. */
    private static HttpResponse<String> generateWithRetry(LocalCluster cluster, String body) throws Exception {
        HttpResponse<String> r = null;
        for (int attempt = 0; attempt < 10; attempt++) {
            r = cluster.generate(0, body, Duration.ofSeconds(60));
            if (r.statusCode() == 200) {
                return r;
            }
            Thread.sleep(500);
        }
        return r;
    }

    private static JsonNode health(HttpClient http, String url) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url + "/health")).timeout(Duration.ofSeconds(10))
                .build(), HttpResponse.BodyHandlers.ofString());
        return Fixtures.JSON.readTree(r.body());
    }
}
