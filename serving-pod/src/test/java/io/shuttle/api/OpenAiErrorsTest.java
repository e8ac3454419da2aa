package io.shuttle.api;

import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import io.shuttle.metrics.ServingMetrics;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every kind of bad input gets its status and an OpenAI error body naming the problem; overload and outages too. */
@QuarkusTest
class OpenAiErrorsTest {
    @Inject
    ServingRuntime runtime;

    @TestHTTPResource("/")
    URL root;

    ApiTestCluster cluster;

    @BeforeEach
    void install() throws Exception {
        cluster = ApiTestCluster.installShared(runtime);
        runtime.apiKey(null);
    }

    private static JsonNode error(String path, byte[] body, int status, String param) {
        Response r = given().body(body).post(path).then().statusCode(status).extract().response();
        JsonNode e = OpenAiApiTest.json(r).get("error");
        assertNotNull(e, "an OpenAI error body: " + r.asString());
        assertTrue(e.get("message").asText().length() > 5, "a message that says what was wrong");
        if (param != null) {
            assertEquals(param, e.get("param").asText(), e.toString());
        }
        return e;
    }

    private static JsonNode error(String path, String body, int status, String param) {
        return error(path, body.getBytes(StandardCharsets.UTF_8), status, param);
    }

    @Test
    void badBodiesAre400WithTheParameterNamed() {
        error("/v1/completions", "{\"prompt\": \"x\",", 400, null);
        error("/v1/completions", "", 400, null);
        error("/v1/completions", "[1,2]", 400, null);
        error("/v1/completions", "{\"prompt\":\"x\"} trailing", 400, null);
        error("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":\"5\"}", 400, "max_tokens");
        error("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":2.5}", 400, "max_tokens");
        error("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":-1}", 400, "max_tokens");
        error("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":1e300}", 400, "max_tokens");
        error("/v1/completions", "{\"prompt\":\"x\",\"temperature\":\"hot\"}", 400, "temperature");
        error("/v1/completions", "{\"prompt\":\"x\",\"temperature\":7}", 400, "temperature");
        error("/v1/completions", "{\"prompt\":\"x\",\"top_p\":0}", 400, "top_p");
        error("/v1/completions", "{\"prompt\":\"x\",\"stream\":\"yes\"}", 400, "stream");
        error("/v1/completions", "{\"prompt\":\"x\",\"n\":2}", 400, "n");
        error("/v1/completions", "{\"prompt\":\"x\",\"stop\":[1]}", 400, "stop");
        error("/v1/completions", "{\"prompt\":\"x\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}", 400, "stop");
        error("/v1/completions", "{\"prompt\":\"x\",\"max_token\":5}", 400, "max_token");
        error("/v1/completions", "{\"prompt\":\"x\",\"seed\":\"1\"}", 400, "seed");
        error("/v1/completions", "{\"prompt\":[1,-2]}", 400, "prompt");
        error("/v1/completions", "{\"prompt\":[99999999]}", 400, "prompt");
        error("/v1/completions", "{\"prompt\":[\"a\",\"b\"]}", 400, "prompt");
        error("/v1/completions", "{\"prompt\":{}}", 400, "prompt");
        error("/v1/completions", "{\"max_tokens\":3}", 400, "prompt");
        error("/v1/completions", "{\"prompt\":\"x\",\"prompt\":\"y\"}", 400, null);
        error("/v1/completions", "{\"prompt\":\"x\",\"stream_options\":{\"include_usage\":true}}", 400, "stream_options");
        error("/v1/chat/completions", "{\"messages\":[]}", 400, "messages");
        error("/v1/chat/completions", "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", 400, "messages[0].role");
        error("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":5}]}", 400, "messages[0].content");
        error("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"prompt\":\"y\"}", 400, "prompt");
        error("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{}]}", 400, "tools");
        // Invalid UTF-8 (a lone continuation byte inside a string).
        error("/v1/completions", new byte[] {'{', '"', 'p', 'r', 'o', 'm', 'p', 't', '"', ':', '"', (byte) 0x80, '"', '}'}, 400, null);
    }

    @Test
    void tooLongPromptsAndBudgetsAre400() {
        String longPrompt = "word ".repeat(ApiTestCluster.MAX_MODEL_LEN * 2);
        JsonNode e = error("/v1/completions", "{\"prompt\":\"" + longPrompt + "\"}", 400, "prompt");
        assertTrue(e.get("message").asText().contains("maximum context length"), e.toString());
        error("/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":" + ApiTestCluster.MAX_MODEL_LEN + "}", 400, "max_tokens");
    }

    @Test
    void unknownModelPathAndMethodKeepTheirStatusInOpenAiFormat() {
        JsonNode e = error("/v1/completions", "{\"model\":\"gpt-9\",\"prompt\":\"x\"}", 404, "model");
        assertEquals("model_not_found", e.get("code").asText());
        assertNotNull(OpenAiApiTest.json(given().get("/v1/nothing").then().statusCode(404).extract().response()).get("error"));
        assertNotNull(OpenAiApiTest.json(given().get("/v1/completions").then().statusCode(405).extract().response()).get("error"));
    }

    @Test
    void anOversizeBodyIsRefusedBeforeItIsRead() throws Exception {
        try (Socket s = new Socket(root.getHost(), root.getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + (64L * 1024 * 1024) + "\r\n\r\n{\"prompt\":\"").getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            String status = new String(s.getInputStream().readNBytes(12), StandardCharsets.US_ASCII);
            assertEquals("HTTP/1.1 413", status, "a 64 MiB body is refused from its Content-Length");
        }
    }

    @Test
    void aFullQueueIs429WithRetryAfter() throws Exception {
        // MAX_RUNNING run and MAX_WAITING wait; long generations keep them there while more arrive.
        String body = "{\"prompt\":\"busy\",\"max_tokens\":200,\"ignore_eos\":true,\"temperature\":0}";
        List<CompletableFuture<Response>> all = new ArrayList<>();
        int clients = 3 * (ApiTestCluster.MAX_RUNNING + ApiTestCluster.MAX_WAITING);
        var pool = java.util.concurrent.Executors.newFixedThreadPool(clients);
        for (int i = 0; i < clients; i++) {
            all.add(CompletableFuture.supplyAsync(() -> given().body(body).post("/v1/completions").then().extract().response(),
                    pool));
        }
        pool.shutdown();
        int ok = 0;
        int shed = 0;
        for (CompletableFuture<Response> f : all) {
            Response r = f.get(5, TimeUnit.MINUTES);
            if (r.statusCode() == 429) {
                shed++;
                assertNotNull(r.header("Retry-After"), "429 says when to retry");
                assertEquals("rate_limit_error", OpenAiApiTest.json(r).get("error").get("type").asText());
            } else {
                assertEquals(200, r.statusCode(), r.asString());
                ok++;
            }
        }
        assertTrue(shed > 0, "some requests were shed");
        assertTrue(ok >= ApiTestCluster.MAX_RUNNING, "the admitted ones finished: " + ok);
    }

    @Test
    void aClientThatDisconnectsFreesItsKvBlocksPromptly() throws Exception {
        var allocator = cluster.attention.loop();
        int total = kvTotal();
        try (Socket s = new Socket(root.getHost(), root.getPort())) {
            s.setSoTimeout(30_000);
            byte[] body = "{\"prompt\":\"Disconnect me\",\"max_tokens\":240,\"ignore_eos\":true,\"stream\":true}"
                    .getBytes(StandardCharsets.UTF_8);
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            InputStream in = s.getInputStream();
            StringBuilder seen = new StringBuilder();
            while (!seen.toString().contains("data: ")) {
                int c = in.read();
                assertTrue(c >= 0, "the stream started");
                seen.append((char) c);
            }
            assertTrue(kvFree() < total, "the request holds KV blocks while it streams");
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (kvFree() < total && System.nanoTime() < deadline) {
            ApiTestCluster.sleep(20);
        }
        assertEquals(total, kvFree(), "every KV block is back soon after the client left (240 tokens would take much longer)");
        assertNotNull(allocator);
    }

    private int kvFree() {
        return ((Number) cluster.attention.health().get("kv_blocks_free")).intValue();
    }

    private int kvTotal() {
        return ((Number) cluster.attention.health().get("kv_blocks_total")).intValue();
    }

    @Test
    void unreachableExpertsAre503AndNotReady() throws Exception {
        ApiTestCluster broken = new ApiTestCluster(ApiTestCluster.model(), new ServingMetrics(), "api-test-broken");
        try {
            runtime.install(broken.attention);
            given().body("{\"prompt\":\"x\",\"max_tokens\":2}").post("/v1/completions").then().statusCode(200);
            // Start a long stream, and close the experts once its first chunk has arrived.
            var http = java.net.http.HttpClient.newHttpClient();
            var lines = http.send(java.net.http.HttpRequest.newBuilder(root.toURI().resolve("/v1/completions"))
                    .timeout(java.time.Duration.ofSeconds(60)).header("Content-Type", "application/json")
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                            "{\"prompt\":\"x\",\"max_tokens\":240,\"ignore_eos\":true,\"stream\":true}")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofLines());
            assertEquals(200, lines.statusCode());
            var it = lines.body().iterator();
            StringBuilder seen = new StringBuilder();
            while (it.hasNext()) {
                String line = it.next();
                seen.append(line).append('\n');
                if (line.startsWith("data: {")) {
                    break;
                }
            }
            broken.experts.forEach(e -> e.close());
            CompletableFuture<String> stream = CompletableFuture.supplyAsync(() -> {
                it.forEachRemaining(l -> seen.append(l).append('\n'));
                return seen.toString();
            });
            String streamed = stream.get(60, TimeUnit.SECONDS);
            assertTrue(streamed.contains("data: {\"error\""), "a stream cut by the outage ends with an error event: " + streamed);
            assertEquals(1, streamed.split("data: \\[DONE\\]", -1).length - 1, "exactly one [DONE]: " + streamed);
            assertTrue(streamed.strip().endsWith("data: [DONE]"));
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            int status = 0;
            while (System.nanoTime() < deadline) {
                status = given().body("{\"prompt\":\"x\",\"max_tokens\":2}").post("/v1/completions").then().extract().statusCode();
                if (status == 503) {
                    break;
                }
                ApiTestCluster.sleep(200);
            }
            assertEquals(503, status, "experts gone: 503, not a hang or a 500");
            given().get("/q/health/ready").then().statusCode(503);
            given().get("/q/health/live").then().statusCode(200);
        } finally {
            runtime.install(cluster.attention);
            broken.attention.close();
        }
        given().get("/q/health/ready").then().statusCode(200);
    }

    @Test
    void loadingPodAnswers503() throws Exception {
        runtime.uninstall();
        try {
            JsonNode e = OpenAiApiTest.json(given().get("/v1/models").then().statusCode(503).extract().response());
            assertTrue(e.get("error").get("message").asText().contains("loading"));
            given().get("/q/health/ready").then().statusCode(503);
        } finally {
            runtime.install(cluster.attention);
        }
    }
}
