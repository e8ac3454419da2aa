package io.shuttle.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A real Prometheus (the Debian package) scrapes {@code shuttle local}'s attention pod and both
 * expert pods every second; after a few completions its query API shows the series exist on
 * the right targets and moved by exactly what the requests did. {@code promtool check metrics}
 * finds nothing to complain about in either role's {@code /metrics}.
 */
class PrometheusE2ETest {
    private static final int MAX_TOKENS = 16;
    private static final String ATTENTION_JOB = "shuttle-attention";
    private static final String EXPERT_JOB = "shuttle-expert";

    @TempDir
    static Path tmp;
    static LocalLauncher cluster;
    static Process prometheus;
    static String prometheusUrl;
    static Path prometheusLog;
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void start() throws Exception {
        assumeTrue(LocalLauncher.onPath("prometheus") != null && LocalLauncher.onPath("promtool") != null,
                "prometheus and promtool are not on the PATH: install the Debian package 'prometheus' (.ci/run does)");
        cluster = LocalLauncher.start(Duration.ofSeconds(150));
        int port = LocalLauncher.freePort();
        prometheusUrl = "http://127.0.0.1:" + port;
        Path config = tmp.resolve("prometheus.yml");
        Files.writeString(config, config(cluster));
        prometheusLog = tmp.resolve("prometheus.log");
        prometheus = new ProcessBuilder(LocalLauncher.onPath("prometheus"), "--config.file=" + config,
                "--storage.tsdb.path=" + tmp.resolve("tsdb"), "--web.listen-address=127.0.0.1:" + port,
                "--storage.tsdb.retention.time=1h")
                .redirectErrorStream(true).redirectOutput(prometheusLog.toFile()).start();
        awaitTrue(Duration.ofSeconds(60), "Prometheus ready at " + prometheusUrl, () -> {
            if (!prometheus.isAlive()) {
                fail("prometheus exited with code " + prometheus.exitValue() + ":\n" + Files.readString(prometheusLog));
            }
            return statusOf(prometheusUrl + "/-/ready") == 200;
        });
        // Every target scraped successfully at least once.
        awaitTrue(Duration.ofSeconds(30), "all three targets up", () -> {
            Map<String, Double> up = query("up");
            return up.size() == 3 && up.values().stream().allMatch(v -> v == 1.0);
        });
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (prometheus != null) {
                prometheus.destroy();
                if (!prometheus.waitFor(10, TimeUnit.SECONDS)) {
                    prometheus.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            }
        } finally {
            if (cluster != null) {
                cluster.close();
            }
        }
    }

    private static String config(LocalLauncher c) {
        List<String> experts = c.expertUrls().stream().map(PrometheusE2ETest::hostPort).toList();
        assertEquals(2, experts.size(), "the launcher printed two expert pods:\n" + c.output());
        return """
                global:
                  scrape_interval: 1s
                  scrape_timeout: 1s
                  evaluation_interval: 1s
                scrape_configs:
                  - job_name: %s
                    static_configs:
                      - targets: ['%s']
                  - job_name: %s
                    static_configs:
                      - targets: ['%s', '%s']
                """.formatted(ATTENTION_JOB, hostPort(c.attentionUrl()), EXPERT_JOB, experts.get(0), experts.get(1));
    }

    private static String hostPort(String url) {
        return URI.create(url).getAuthority();
    }

    @Test
    void scrapedSeriesExistAndMove() throws Exception {
        Map<String, Double> up = query("up");
        assertEquals(3, up.size(), "one up series per target: " + up);
        up.forEach((target, v) -> assertEquals(1.0, v, "up for " + target));

        Snapshot before = caughtUp();
        assertTrue(before.attentionSeconds > 0, "T_a observed on the attention target: " + before);
        before.expertSeconds.forEach((target, v) -> assertTrue(v > 0, "T_e observed on " + target + ": " + before));
        assertEquals(2, before.expertSeconds.size(), "T_e series on both expert targets: " + before);

        // Three completions and one chat, greedy with ignore_eos: exactly MAX_TOKENS each.
        int promptTokens = 0;
        int requests = 0;
        for (String prompt : List.of("The quick brown fox", "Prometheus scrapes", "a b c d e f g h i j k l")) {
            promptTokens += generate("/completions", body().put("prompt", prompt));
            requests++;
        }
        ObjectNode chat = body();
        chat.putArray("messages").addObject().put("role", "user").put("content", "Hello there");
        promptTokens += generate("/chat/completions", chat);
        requests++;
        int n = requests;
        int generated = n * MAX_TOKENS;

        Snapshot after = awaitSnapshot(s -> s.generationTokens >= before.generationTokens + generated
                && s.ttftCount >= before.ttftCount + n
                && s.expertTokens() > before.expertTokens());
        String why = "\nbefore: " + before + "\nafter:  " + after;
        assertEquals(generated, after.generationTokens - before.generationTokens, "shuttle_generation_tokens_total" + why);
        assertEquals(promptTokens, after.promptTokens - before.promptTokens, "shuttle_prompt_tokens_total" + why);
        assertEquals(n, after.ttftCount - before.ttftCount, "shuttle_time_to_first_token_seconds_count" + why);
        assertEquals(n, after.e2eCount - before.e2eCount, "shuttle_e2e_request_latency_seconds_count" + why);
        assertEquals(n, after.finishedLength - before.finishedLength, "shuttle_request_finished_total{finish_reason=\"length\"}" + why);
        assertEquals(3, after.completionsOk - before.completionsOk,
                "shuttle_requests_total{endpoint=\"/v1/completions\",status=\"200\"}" + why);
        assertTrue(after.attentionSeconds > before.attentionSeconds, "T_a count moved" + why);
        for (String target : before.expertSeconds.keySet()) {
            assertTrue(after.expertSeconds.get(target) > before.expertSeconds.get(target), "T_e count moved on " + target + why);
        }
        // Every token a layer computes goes to top-k experts: rows = layers x k x (prompt + generated - 1) per request.
        JsonNode config = Fixtures.JSON.readTree(cluster.modelDir().resolve("config.json").toFile());
        int layers = config.path("num_hidden_layers").asInt();
        int topK = config.path("num_experts_per_tok").asInt();
        long expectedRows = (long) layers * topK * (promptTokens + generated - n);
        assertEquals(expectedRows, after.expertTokens() - before.expertTokens(),
                "shuttle_expert_tokens_total summed over both expert targets (" + layers + " layers, top-" + topK + ")" + why);
        for (String target : after.expertTokensByTarget.keySet()) {
            assertTrue(after.expertTokensByTarget.get(target) > before.expertTokensByTarget.getOrDefault(target, 0.0),
                    "expert tokens moved on " + target + why);
        }
        assertTrue(after.m2nSentAttention > before.m2nSentAttention, "M2N bytes sent by the attention pod moved" + why);
    }

    @Test
    void promtoolFindsNoProblemsOnEitherRole() throws Exception {
        // One request first, so labelled series (status, finish_reason, expert) exist in the bodies.
        generate("/completions", body().put("prompt", "lint me"));
        List<String> problems = new ArrayList<>();
        for (String url : List.of(cluster.attentionUrl(), cluster.expertUrls().get(0))) {
            HttpResponse<String> r = LocalLauncher.get(HTTP, url + "/metrics");
            assertEquals(200, r.statusCode(), url + "/metrics");
            assertTrue(r.body().contains("shuttle_"), url + "/metrics has shuttle_ series");
            Process p = new ProcessBuilder(LocalLauncher.onPath("promtool"), "check", "metrics").redirectErrorStream(true).start();
            try (var in = p.getOutputStream()) {
                in.write(r.body().getBytes(StandardCharsets.UTF_8));
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "promtool finished");
            if (p.exitValue() != 0 || !out.isBlank()) {
                problems.add(url + "/metrics (exit " + p.exitValue() + "):\n" + out);
            }
        }
        assertEquals(List.of(), problems, "promtool check metrics");
    }

    private static ObjectNode body() {
        ObjectNode b = Fixtures.JSON.createObjectNode();
        return b.put("model", cluster.model()).put("max_tokens", MAX_TOKENS).put("temperature", 0).put("ignore_eos", true);
    }

    /** Sends one non-streamed request; returns its usage.prompt_tokens. */
    private static int generate(String path, ObjectNode body) throws Exception {
        HttpResponse<String> r = LocalLauncher.postJson(HTTP, cluster.baseUrl() + path, body.toString());
        assertEquals(200, r.statusCode(), "POST " + path + " " + body + " -> " + r.body());
        JsonNode usage = Fixtures.JSON.readTree(r.body()).path("usage");
        assertEquals(MAX_TOKENS, usage.path("completion_tokens").asInt(), r.body());
        return usage.path("prompt_tokens").asInt();
    }

    /** What Prometheus holds for the series this test follows, by target (instance). */
    private record Snapshot(double generationTokens, double promptTokens, double ttftCount, double e2eCount,
                            double finishedLength, double completionsOk, double attentionSeconds,
                            Map<String, Double> expertSeconds, Map<String, Double> expertTokensByTarget,
                            double m2nSentAttention) {
        static Snapshot take() throws Exception {
            String a = "{job=\"" + ATTENTION_JOB + "\"}";
            return new Snapshot(
                    single("shuttle_generation_tokens_total" + a),
                    single("shuttle_prompt_tokens_total" + a),
                    single("shuttle_time_to_first_token_seconds_count" + a),
                    single("shuttle_e2e_request_latency_seconds_count" + a),
                    singleOrZero("shuttle_request_finished_total{job=\"" + ATTENTION_JOB + "\",finish_reason=\"length\"}"),
                    singleOrZero("shuttle_requests_total{job=\"" + ATTENTION_JOB + "\",endpoint=\"/v1/completions\",status=\"200\"}"),
                    single("shuttle_attention_seconds_count" + a),
                    query("shuttle_expert_seconds_count{job=\"" + EXPERT_JOB + "\"}"),
                    query("sum by (instance) (shuttle_expert_tokens_total{job=\"" + EXPERT_JOB + "\"})"),
                    single("shuttle_m2n_bytes_total{job=\"" + ATTENTION_JOB + "\",direction=\"sent\"}"));
        }

        double expertTokens() {
            return expertTokensByTarget.values().stream().mapToDouble(Double::doubleValue).sum();
        }
    }

    /**
     * A snapshot once Prometheus' last scrapes show what the pods show now (an earlier test's
     * requests may not have been scraped yet): generation tokens on the attention pod, expert
     * rows on each expert pod.
     */
    private static Snapshot caughtUp() throws Exception {
        double tokens = direct(cluster.attentionUrl(), "shuttle_generation_tokens_total");
        double rows = 0;
        for (String url : cluster.expertUrls()) {
            rows += direct(url, "shuttle_expert_tokens_total");
        }
        double expectedRows = rows;
        return awaitSnapshot(s -> s.generationTokens == tokens && s.expertTokens() == expectedRows);
    }

    /** The sum of a metric's samples in a pod's own /metrics body. */
    private static double direct(String podUrl, String name) throws Exception {
        HttpResponse<String> r = LocalLauncher.get(HTTP, podUrl + "/metrics");
        assertEquals(200, r.statusCode(), podUrl + "/metrics");
        double sum = 0;
        for (String line : r.body().split("\n")) {
            if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
                sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    private static Snapshot awaitSnapshot(Predicate<Snapshot> done) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        Snapshot s = Snapshot.take();
        while (!done.test(s) && System.nanoTime() < deadline) {
            Thread.sleep(500);
            s = Snapshot.take();
        }
        // One more scrape interval so every target's last scrape follows the requests.
        Thread.sleep(1500);
        return Snapshot.take();
    }

    private static double single(String promql) throws Exception {
        Map<String, Double> r = query(promql);
        assertEquals(1, r.size(), "exactly one series for " + promql + ": " + r);
        return r.values().iterator().next();
    }

    private static double singleOrZero(String promql) throws Exception {
        Map<String, Double> r = query(promql);
        assertTrue(r.size() <= 1, "at most one series for " + promql + ": " + r);
        return r.isEmpty() ? 0 : r.values().iterator().next();
    }

    /** An instant query: value by instance label (by the whole label set if there is no instance). */
    static Map<String, Double> query(String promql) throws Exception {
        HttpResponse<String> r = LocalLauncher.get(HTTP, prometheusUrl + "/api/v1/query?query="
                + URLEncoder.encode(promql, StandardCharsets.UTF_8));
        JsonNode doc = Fixtures.JSON.readTree(r.body());
        if (r.statusCode() != 200 || !"success".equals(doc.path("status").asText())) {
            fail("Prometheus query " + promql + " answered " + r.statusCode() + ": " + r.body());
        }
        Map<String, Double> out = new TreeMap<>();
        for (JsonNode series : doc.path("data").path("result")) {
            JsonNode labels = series.path("metric");
            String key = labels.has("instance") ? labels.path("instance").asText() : labels.toString();
            if (out.put(key, Double.parseDouble(series.path("value").path(1).asText())) != null) {
                fail("two series for instance " + key + " in " + promql + ": " + r.body());
            }
        }
        return out;
    }

    private static int statusOf(String url) {
        try {
            return LocalLauncher.get(HTTP, url).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private interface Check {
        boolean ok() throws Exception;
    }

    private static void awaitTrue(Duration timeout, String what, Check check) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!check.ok()) {
            if (System.nanoTime() > deadline) {
                fail("timed out after " + timeout + " waiting for " + what + "; Prometheus log:\n"
                        + (prometheusLog != null && Files.exists(prometheusLog) ? Files.readString(prometheusLog) : "(none)")
                        + "\nlauncher output:\n" + cluster.output());
            }
            Thread.sleep(250);
        }
    }
}
