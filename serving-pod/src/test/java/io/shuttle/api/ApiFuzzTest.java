package io.shuttle.api;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile input: 1,200 seeded malformed or adversarial bodies (broken JSON, wrong types, huge
 * and negative numbers, deep nesting, invalid UTF-8, random bytes, mutated valid requests),
 * plus clients that stall mid-request. None may get a 5xx, and the server must keep serving.
 */
@QuarkusTest
class ApiFuzzTest {
    private static final String[] VALID = {
        "{\"prompt\":\"Hello\",\"max_tokens\":2,\"temperature\":0}",
        "{\"prompt\":[1,2,3],\"max_tokens\":2,\"stream\":true}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":2,\"logprobs\":true,\"top_logprobs\":1}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":2,\"stream\":true,\"stop\":[\"a\"]}",
    };
    private static final String[] VALUES = {"null", "true", "-1", "0", "1e309", "-1e309", "99999999999999999999999",
        "1.5", "\"\"", "\"x\"", "[]", "{}", "[[[[[]]]]]", "-0", "NaN", "\"\\u0000\"", "\"\\ud800\"", "2147483648"};
    private static final String[] FIELDS = {"prompt", "messages", "max_tokens", "temperature", "top_p", "top_k", "seed",
        "stop", "stream", "n", "logprobs", "top_logprobs", "stream_options", "model", "ignore_eos", "__proto__", "💥"};

    @Inject
    ServingRuntime runtime;

    @TestHTTPResource("/")
    URL root;

    @BeforeEach
    void install() throws Exception {
        ApiTestCluster.installShared(runtime);
        runtime.apiKey(null);
    }

    @Test
    void thousandsOfHostileRequestsGetNo5xx() throws Exception {
        Random rnd = new Random(20261130);
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        int n = 1200;
        int[] byClass = new int[6];
        for (int i = 0; i < n; i++) {
            byte[] body = hostile(rnd, i);
            String path = rnd.nextBoolean() ? "/v1/completions" : "/v1/chat/completions";
            HttpRequest req = HttpRequest.newBuilder(URI.create(root.toString().replaceAll("/$", "") + path))
                    .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
            HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
            byClass[r.statusCode() / 100]++;
            assertTrue(r.statusCode() < 500, "request " + i + " got " + r.statusCode() + ": "
                    + new String(body, StandardCharsets.UTF_8) + " -> " + r.body());
        }
        assertTrue(byClass[4] > n / 2, "most hostile requests are refused: " + java.util.Arrays.toString(byClass));
        given().body(VALID[0]).post("/v1/completions").then().statusCode(200);
    }

    @Test
    void stalledClientsDoNotBlockOthers() throws Exception {
        List<Socket> stalled = new ArrayList<>();
        try {
            for (int i = 0; i < 16; i++) {
                Socket s = new Socket(root.getHost(), root.getPort());
                OutputStream out = s.getOutputStream();
                // Promise a body and send only part of it.
                out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        + "Content-Length: 1000\r\n\r\n{\"prompt\":").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                stalled.add(s);
            }
            for (int i = 0; i < 5; i++) {
                given().body(VALID[0]).post("/v1/completions").then().statusCode(200);
            }
        } finally {
            for (Socket s : stalled) {
                s.close();
            }
        }
        assertEquals(200, given().get("/q/health/live").then().extract().statusCode());
    }

    private static byte[] hostile(Random rnd, int i) {
        String valid = VALID[rnd.nextInt(VALID.length)];
        return switch (i % 8) {
            case 0 -> valid.substring(0, rnd.nextInt(valid.length())).getBytes(StandardCharsets.UTF_8); // truncated
            case 1 -> { // a field with a hostile value
                String f = FIELDS[rnd.nextInt(FIELDS.length)];
                yield ("{\"prompt\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"" + f + "\":"
                        + VALUES[rnd.nextInt(VALUES.length)] + "}").getBytes(StandardCharsets.UTF_8);
            }
            case 2 -> { // random bytes
                byte[] b = new byte[rnd.nextInt(200)];
                rnd.nextBytes(b);
                yield b;
            }
            case 3 -> { // valid JSON with a byte flipped
                byte[] b = valid.getBytes(StandardCharsets.UTF_8);
                b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
                yield b;
            }
            case 4 -> ("[".repeat(2000 + rnd.nextInt(5000)) + "]".repeat(10)).getBytes(StandardCharsets.UTF_8); // deep nesting
            case 5 -> ("{\"prompt\":\"" + "\\u".repeat(1 + rnd.nextInt(5)) + "zz\"}").getBytes(StandardCharsets.UTF_8);
            case 6 -> { // only the right types but absurd sizes
                long big = rnd.nextBoolean() ? Long.MAX_VALUE : -rnd.nextInt(1000);
                yield ("{\"prompt\":\"x\",\"max_tokens\":" + big + ",\"top_k\":" + big + "}").getBytes(StandardCharsets.UTF_8);
            }
            default -> { // a valid request with a random field renamed or retyped
                String f = FIELDS[rnd.nextInt(FIELDS.length)];
                yield valid.replace("\"max_tokens\":2", "\"" + f + "\":" + VALUES[rnd.nextInt(VALUES.length)])
                        .getBytes(StandardCharsets.UTF_8);
            }
        };
    }
}
