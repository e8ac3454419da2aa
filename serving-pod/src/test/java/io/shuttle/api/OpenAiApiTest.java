package io.shuttle.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The OpenAI-compatible endpoints against a real in-JVM deployment (one attention pod, two
 * expert pods over M2N). Text is cross-checked against {@code /v1/shuttle/generate}, which
 * decodes whole id sequences — a second path to the same answer — and streamed text against
 * non-streamed text.
 */
@QuarkusTest
class OpenAiApiTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @Inject
    ServingRuntime runtime;

    ApiTestCluster cluster;

    @BeforeEach
    void install() throws Exception {
        cluster = ApiTestCluster.installShared(runtime);
        runtime.apiKey(null);
    }

    @Test
    void modelsListsTheServedModel() {
        JsonNode body = json(given().get("/v1/models").then().statusCode(200).extract().response());
        assertEquals("list", body.get("object").asText());
        assertEquals("tiny", body.get("data").get(0).get("id").asText());
        assertEquals(ApiTestCluster.MAX_MODEL_LEN, body.get("data").get(0).get("max_model_len").asInt());
    }

    @Test
    void greedyCompletionMatchesTheIdPathAndCountsUsage() throws Exception {
        String prompt = "The quick brown fox";
        JsonNode c = post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"" + prompt
                + "\",\"max_tokens\":12,\"temperature\":0,\"ignore_eos\":true}", 200);
        JsonNode ref = post("/v1/shuttle/generate", "{\"prompts\":[\"" + prompt
                + "\"],\"max_tokens\":12,\"temperature\":0,\"ignore_eos\":true}", 200).get("results").get(0);
        JsonNode choice = c.get("choices").get(0);
        assertEquals(ref.get("text").asText(), choice.get("text").asText(), "same tokens, decoded two ways");
        assertEquals("length", choice.get("finish_reason").asText());
        assertEquals("text_completion", c.get("object").asText());
        int promptTokens = cluster.attention.tokenizer().encode(prompt, true).length;
        assertEquals(promptTokens, c.get("usage").get("prompt_tokens").asInt());
        assertEquals(12, c.get("usage").get("completion_tokens").asInt());
        assertEquals(promptTokens + 12, c.get("usage").get("total_tokens").asInt());
    }

    @Test
    void streamedCompletionEqualsTheWholeAnswer() throws Exception {
        String body = "{\"prompt\":\"Once upon a time\",\"max_tokens\":16,\"temperature\":0,\"ignore_eos\":true";
        String whole = post("/v1/completions", body + "}", 200).get("choices").get(0).get("text").asText();
        Response r = given().body(body + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}")
                .post("/v1/completions").then().statusCode(200).extract().response();
        assertTrue(r.contentType().startsWith("text/event-stream"), r.contentType());
        List<JsonNode> chunks = sse(r.asString());
        StringBuilder text = new StringBuilder();
        String finish = null;
        for (JsonNode ch : chunks) {
            if (ch.get("choices").isEmpty()) {
                assertEquals(16, ch.get("usage").get("completion_tokens").asInt(), "the usage chunk comes last");
                continue;
            }
            text.append(ch.get("choices").get(0).get("text").asText());
            if (!ch.get("choices").get(0).get("finish_reason").isNull()) {
                finish = ch.get("choices").get(0).get("finish_reason").asText();
            }
        }
        assertEquals(whole, text.toString());
        assertEquals("length", finish);
        assertTrue(chunks.getLast().has("usage"), "usage chunk at the end");
    }

    @Test
    void chatStreamedAndWholeAgree() throws Exception {
        String body = "{\"model\":\"tiny\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                + "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hello there\"}]}],"
                + "\"max_tokens\":10,\"temperature\":0,\"ignore_eos\":true";
        JsonNode whole = post("/v1/chat/completions", body + "}", 200);
        assertEquals("chat.completion", whole.get("object").asText());
        assertEquals("assistant", whole.get("choices").get(0).get("message").get("role").asText());
        String text = whole.get("choices").get(0).get("message").get("content").asText();
        Response r = given().body(body + ",\"stream\":true}").post("/v1/chat/completions")
                .then().statusCode(200).extract().response();
        List<JsonNode> chunks = sse(r.asString());
        assertEquals("assistant", chunks.getFirst().get("choices").get(0).get("delta").get("role").asText());
        StringBuilder streamed = new StringBuilder();
        for (JsonNode ch : chunks) {
            assertEquals("chat.completion.chunk", ch.get("object").asText());
            streamed.append(ch.get("choices").get(0).get("delta").path("content").asText(""));
        }
        assertEquals(text, streamed.toString());
        assertEquals("length", chunks.getLast().get("choices").get(0).get("finish_reason").asText());
    }

    @Test
    void stopStringEndsTheAnswerBeforeIt() throws Exception {
        String base = "{\"prompt\":\"Hello\",\"max_tokens\":24,\"temperature\":0,\"ignore_eos\":true";
        String full = post("/v1/completions", base + "}", 200).get("choices").get(0).get("text").asText();
        // A stop string from the middle of the greedy answer: the answer ends right before its first occurrence.
        String stop = full.substring(full.length() / 2, full.length() / 2 + 2);
        JsonNode c = post("/v1/completions", base + ",\"stop\":[" + JSON.writeValueAsString(stop) + "]}", 200);
        JsonNode choice = c.get("choices").get(0);
        assertEquals(full.substring(0, full.indexOf(stop)), choice.get("text").asText());
        assertEquals("stop", choice.get("finish_reason").asText());
        List<JsonNode> chunks = sse(given().body(base + ",\"stream\":true,\"stop\":" + JSON.writeValueAsString(stop) + "}")
                .post("/v1/completions").then().statusCode(200).extract().asString());
        StringBuilder streamed = new StringBuilder();
        chunks.forEach(ch -> streamed.append(ch.get("choices").get(0).get("text").asText()));
        assertEquals(full.substring(0, full.indexOf(stop)), streamed.toString(), "held-back text never leaks a stop string");
    }

    @Test
    void logprobsAreLogProbabilitiesOfTheChosenTokens() throws Exception {
        JsonNode c = post("/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":6,\"temperature\":0,\"ignore_eos\":true,"
                + "\"logprobs\":3}", 200);
        JsonNode lp = c.get("choices").get(0).get("logprobs");
        assertEquals(6, lp.get("tokens").size());
        for (int i = 0; i < 6; i++) {
            double chosen = lp.get("token_logprobs").get(i).asDouble();
            assertTrue(chosen < 0 && chosen > -20, "a log-probability: " + chosen);
            double mass = 0;
            double best = Double.NEGATIVE_INFINITY;
            for (var it = lp.get("top_logprobs").get(i).fields(); it.hasNext(); ) {
                double v = it.next().getValue().asDouble();
                mass += Math.exp(v);
                best = Math.max(best, v);
            }
            assertTrue(mass <= 1.0001, "top alternatives hold at most all the mass: " + mass);
            assertEquals(best, chosen, 1e-5, "greedy picks the most likely token");
        }
        JsonNode chat = post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                + "\"max_tokens\":3,\"temperature\":0,\"logprobs\":true,\"top_logprobs\":2}", 200);
        JsonNode content = chat.get("choices").get(0).get("logprobs").get("content");
        assertFalse(content.isEmpty());
        assertEquals(2, content.get(0).get("top_logprobs").size());
    }

    @Test
    void seededSamplingIsReproducible() throws Exception {
        String body = "{\"prompt\":\"Seeds\",\"max_tokens\":10,\"temperature\":0.9,\"top_p\":0.95,\"top_k\":50,\"seed\":42,"
                + "\"ignore_eos\":true}";
        String a = post("/v1/completions", body, 200).get("choices").get(0).get("text").asText();
        String b = post("/v1/completions", body, 200).get("choices").get(0).get("text").asText();
        assertEquals(a, b);
    }

    @Test
    void apiKeyIsRequiredWhenConfigured() {
        runtime.apiKey("sk-test-123");
        try {
            JsonNode missing = json(given().get("/v1/models").then().statusCode(401).extract().response());
            assertEquals("authentication_error", missing.get("error").get("type").asText());
            given().header("Authorization", "Bearer wrong").get("/v1/models").then().statusCode(401);
            given().header("Authorization", "Bearer sk-test-123").get("/v1/models").then().statusCode(200);
            given().get("/q/health/live").then().statusCode(200); // probes need no key
        } finally {
            runtime.apiKey(null);
        }
    }

    @Test
    void healthAndMetricsAnswer() {
        given().get("/q/health/live").then().statusCode(200);
        given().get("/q/health/ready").then().statusCode(200);
        given().get("/health").then().statusCode(200);
        String before = given().get("/metrics").then().statusCode(200).extract().asString();
        given().body("{\"prompt\":\"m\",\"max_tokens\":4,\"ignore_eos\":true}").post("/v1/completions").then().statusCode(200);
        String after = given().get("/metrics").then().statusCode(200).extract().asString();
        for (String name : List.of("shuttle_requests_total", "shuttle_time_to_first_token_seconds_bucket",
                "shuttle_time_per_output_token_seconds_count", "shuttle_e2e_request_latency_seconds_sum",
                "shuttle_prompt_tokens_total", "shuttle_generation_tokens_total", "shuttle_requests_running",
                "shuttle_requests_waiting", "shuttle_kv_cache_usage_ratio", "shuttle_attention_seconds_count",
                "shuttle_m2n_round_seconds_count", "shuttle_pipeline_bubble_ratio", "shuttle_m2n_bytes_total",
                "shuttle_m2n_missing_sender_rounds_total", "shuttle_communication_seconds_count", "shuttle_lane_moves_total")) {
            assertTrue(after.contains(name), "metric " + name + " is exported");
        }
        assertTrue(value(after, "shuttle_generation_tokens_total") >= value(before, "shuttle_generation_tokens_total") + 4,
                "generation tokens moved");
        assertTrue(value(after, "shuttle_requests_total{endpoint=\"/v1/completions\",status=\"200\"}")
                > value(before, "shuttle_requests_total{endpoint=\"/v1/completions\",status=\"200\"}"));
    }

    static double value(String exposition, String series) {
        for (String line : exposition.split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).trim());
            }
        }
        return 0;
    }

    static JsonNode post(String path, String body, int status) {
        return json(given().body(body).post(path).then().statusCode(status).extract().response());
    }

    static JsonNode json(Response r) {
        try {
            return JSON.readTree(r.asString());
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + r.asString(), e);
        }
    }

    /** The JSON events of an SSE body; checks it ends with [DONE]. */
    static List<JsonNode> sse(String body) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        boolean done = false;
        for (String event : body.split("\n\n")) {
            String e = event.strip();
            if (e.isEmpty()) {
                continue;
            }
            assertTrue(e.startsWith("data: "), "an SSE data line: " + e);
            assertFalse(done, "nothing after [DONE]");
            if (e.equals("data: [DONE]")) {
                done = true;
                continue;
            }
            JsonNode n = JSON.readTree(e.substring(6));
            assertNotNull(n.get("id"), "a chunk: " + e);
            out.add(n);
        }
        assertTrue(done, "the stream ends with data: [DONE]");
        return out;
    }
}
