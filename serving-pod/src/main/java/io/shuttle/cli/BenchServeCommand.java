package io.shuttle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.shuttle.model.Checkpoint;
import io.shuttle.serve.LocalCluster;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code shuttle bench serve}: a load generator for the OpenAI API. At each concurrency level,
 * that many clients send streaming chat requests back to back for a fixed number of requests;
 * it prints output throughput, request rate and the TTFT / TPOT / end-to-end percentiles as the
 * client sees them (vLLM's {@code benchmark_serving} measures the same way). Without
 * {@code --url} it starts a local cluster first.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Load-test the OpenAI API (streaming chat) at several concurrency levels; starts a local cluster unless --url is given.")
final class BenchServeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--url", description = "Base URL of a running server, e.g. http://127.0.0.1:8000 (default: start a local cluster).")
    String url;

    @Option(names = "--model", paramLabel = "DIR", description = "Local cluster: checkpoint folder (default: the cached tiny preset).")
    Path model;

    @Option(names = "--attention", defaultValue = "1", description = "Local cluster: attention processes (default: ${DEFAULT-VALUE}).")
    int attention;

    @Option(names = "--experts", defaultValue = "2", description = "Local cluster: expert processes (default: ${DEFAULT-VALUE}).")
    int experts;

    @Option(names = "--micro-batches", defaultValue = "2", description = "Local cluster: micro-batches (default: ${DEFAULT-VALUE}).")
    int microBatches;

    @Option(names = "--concurrency", split = ",", defaultValue = "1,4,16", description = "Concurrent clients per level (default: ${DEFAULT-VALUE}).")
    int[] concurrency;

    @Option(names = "--requests", defaultValue = "32", description = "Requests per level (default: ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--max-tokens", defaultValue = "32", description = "Tokens generated per request (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--prompt-words", defaultValue = "24", description = "Words in each prompt (default: ${DEFAULT-VALUE}).")
    int promptWords;

    @Option(names = "--api-key", defaultValue = "${env:SHUTTLE_API_KEY}", description = "API key to send (env SHUTTLE_API_KEY).")
    String apiKey;

    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /** One request as the client saw it; times in seconds, -1 when it failed. */
    private record Sample(int status, double ttft, double e2e, int tokens) {
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (requests < 1 || maxTokens < 1 || Arrays.stream(concurrency).anyMatch(c -> c < 1)) {
            throw new IllegalArgumentException("--requests, --max-tokens and every --concurrency level must be ≥ 1");
        }
        if (url != null) {
            return run(url.replaceAll("/+$", ""), out);
        }
        Path dir = model != null ? model : LocalCommand.cachedTinyModel(out);
        int numExperts;
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            numExperts = ckpt.config().numExperts();
        }
        out.printf("starting a local cluster: %d attention + %d expert processes, %d micro-batches, model %s%n",
                attention, experts, microBatches, dir);
        out.flush();
        try (LocalCluster cluster = LocalCluster.start(new LocalCluster.Spec(dir, attention, experts, microBatches, "auto",
                1, false, null, numExperts), Duration.ofSeconds(120))) {
            return run(cluster.attentionPods().get(0).url(), out);
        }
    }

    private int run(String base, PrintWriter out) throws Exception {
        String modelName = JSON.readTree(send(HttpRequest.newBuilder(URI.create(base + "/v1/models")).GET(), Duration.ofSeconds(10))
                .body()).path("data").path(0).path("id").asText();
        out.printf(Locale.ROOT, "server %s, model %s, %d requests per level, %d prompt words, %d output tokens%n",
                base, modelName, requests, promptWords, maxTokens);
        out.printf(Locale.ROOT, "%11s %8s %8s %10s %9s %9s %9s %9s %9s %9s %9s%n", "concurrency", "ok", "429/err",
                "out tok/s", "req/s", "ttft p50", "ttft p90", "ttft p99", "tpot p50", "tpot p90", "tpot p99");
        for (int c : concurrency) {
            level(base, modelName, c, out);
        }
        out.println("(times in ms, as the client sees them: TTFT = first streamed token, TPOT = (e2e - TTFT) / (tokens - 1))");
        out.flush();
        return 0;
    }

    private void level(String base, String modelName, int clients, PrintWriter out) throws Exception {
        AtomicInteger next = new AtomicInteger();
        List<Sample> samples = java.util.Collections.synchronizedList(new ArrayList<>());
        long start = System.nanoTime();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> workers = new ArrayList<>();
            for (int w = 0; w < clients; w++) {
                workers.add(pool.submit(() -> {
                    for (int i = next.getAndIncrement(); i < requests; i = next.getAndIncrement()) {
                        samples.add(one(base, modelName, i));
                    }
                    return null;
                }));
            }
            for (Future<?> f : workers) {
                f.get(30, TimeUnit.MINUTES);
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        List<Sample> ok = samples.stream().filter(s -> s.status() == 200).toList();
        long tokens = ok.stream().mapToLong(Sample::tokens).sum();
        double[] ttft = ok.stream().mapToDouble(Sample::ttft).sorted().toArray();
        double[] tpot = ok.stream().filter(s -> s.tokens() > 1)
                .mapToDouble(s -> (s.e2e() - s.ttft()) / (s.tokens() - 1)).sorted().toArray();
        out.printf(Locale.ROOT, "%11d %8d %8d %10.1f %9.2f %9.1f %9.1f %9.1f %9.2f %9.2f %9.2f%n", clients, ok.size(),
                samples.size() - ok.size(), tokens / seconds, ok.size() / seconds,
                ms(ttft, 0.5), ms(ttft, 0.9), ms(ttft, 0.99), ms(tpot, 0.5), ms(tpot, 0.9), ms(tpot, 0.99));
        out.flush();
    }

    private Sample one(String base, String modelName, int i) {
        ObjectNode body = JSON.createObjectNode();
        body.put("model", modelName).put("stream", true).put("max_tokens", maxTokens).put("temperature", 0.8)
                .put("seed", i).put("ignore_eos", true);
        body.putObject("stream_options").put("include_usage", true);
        StringBuilder prompt = new StringBuilder("Request ").append(i).append(':');
        for (int w = 0; w < promptWords; w++) {
            prompt.append(' ').append(WORDS[(i * 7 + w) % WORDS.length]);
        }
        body.putArray("messages").addObject().put("role", "user").put("content", prompt.toString());
        HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        long t0 = System.nanoTime();
        try {
            if (apiKey != null && !apiKey.isBlank()) {
                req.header("Authorization", "Bearer " + apiKey);
            }
            HttpResponse<java.util.stream.Stream<String>> r = http.send(req.timeout(Duration.ofMinutes(10)).build(),
                    HttpResponse.BodyHandlers.ofLines());
            if (r.statusCode() != 200) {
                r.body().close();
                return new Sample(r.statusCode(), -1, -1, 0);
            }
            double ttft = -1;
            int tokens = 0;
            try (var lines = r.body()) {
                for (String line : (Iterable<String>) lines::iterator) {
                    if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
                        continue;
                    }
                    JsonNode chunk = JSON.readTree(line.substring(6));
                    if (chunk.has("error")) {
                        return new Sample(599, -1, -1, tokens);
                    }
                    if (chunk.path("usage").has("completion_tokens")) {
                        tokens = chunk.get("usage").get("completion_tokens").asInt();
                    }
                    String text = chunk.path("choices").path(0).path("delta").path("content").asText("");
                    if (!text.isEmpty() && ttft < 0) {
                        ttft = (System.nanoTime() - t0) / 1e9;
                    }
                }
            }
            return new Sample(200, Math.max(0, ttft), (System.nanoTime() - t0) / 1e9, tokens);
        } catch (IOException | InterruptedException e) {
            return new Sample(0, -1, -1, 0);
        }
    }

    private HttpResponse<String> send(HttpRequest.Builder b, Duration timeout) throws IOException, InterruptedException {
        if (apiKey != null && !apiKey.isBlank()) {
            b.header("Authorization", "Bearer " + apiKey);
        }
        HttpResponse<String> r = http.send(b.timeout(timeout).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IllegalStateException("GET /v1/models answered " + r.statusCode() + ": " + r.body());
        }
        return r;
    }

    private static double ms(double[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        return 1000 * sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }

    private static final String[] WORDS = {"the", "pipeline", "expert", "attention", "token", "batch", "cluster", "model",
        "serve", "fast", "micro", "round", "layer", "router", "cache", "stream"};
}
