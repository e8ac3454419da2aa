package io.shuttle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.shuttle.kernels.DType;
import io.shuttle.model.Checkpoint;
import io.shuttle.model.init.CheckpointGenerator;
import io.shuttle.model.init.Preset;
import io.shuttle.serve.LocalCluster;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code shuttle local}: a disaggregated cluster on this machine (A attention and E expert
 * processes on loopback, talking M2N). Without {@code --model} it generates and caches the
 * {@code tiny} preset. With {@code --prompts-file} it runs the prompts, prints the same JSON as
 * {@code shuttle generate} and exits; otherwise it answers one demo prompt and serves until
 * Ctrl-C, or until any process dies.
 */
@Command(name = "local", mixinStandardHelpOptions = true,
        description = "Run a disaggregated Shuttle cluster on this machine (attention and expert processes on loopback).")
final class LocalCommand implements Callable<Integer> {

    static final long TINY_SEED = 1;

    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR", description = "Checkpoint folder (default: the cached tiny preset).")
    Path model;

    @Option(names = "--attention", defaultValue = "1", description = "Attention processes (default: ${DEFAULT-VALUE}).")
    int attention;

    @Option(names = "--experts", defaultValue = "2", description = "Expert processes (default: ${DEFAULT-VALUE}).")
    int experts;

    @Option(names = "--micro-batches", defaultValue = "2", description = "Micro-batches per step (default: ${DEFAULT-VALUE}).")
    int microBatches;

    @Option(names = "--transport", defaultValue = "auto", description = "M2N transport: auto, ucx or tcp (default: ${DEFAULT-VALUE}).")
    String transport;

    @Option(names = "--threads-per-process", defaultValue = "1", description = "Compute threads per process (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--replicate-experts", description = "Place every expert on two expert processes.")
    boolean replicate;

    @Option(names = "--pin-cores", description = "Pin each process to a core of its own, attention processes first (as bench pipeline does; needs taskset).")
    boolean pinCores;

    @Option(names = "--trace", paramLabel = "FILE", description = "Write Chrome/Perfetto traces (one file per attention process, FILE.attention-N.json).")
    Path trace;

    @Option(names = "--prompt", defaultValue = "The quick brown fox", description = "Demo prompt in serving mode (default: ${DEFAULT-VALUE}).")
    String prompt;

    @Option(names = "--prompts-file", paramLabel = "F", description = "One-shot mode: JSON array of text prompts or id arrays; print results and exit.")
    Path promptsFile;

    @Option(names = "--max-tokens", defaultValue = "24", description = "Tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--ignore-eos", description = "Keep generating after the end-of-sequence token.")
    boolean ignoreEos;

    @Option(names = "--port", defaultValue = "8000",
            description = "Serving mode: HTTP port of the OpenAI API (attention process N listens on PORT + N; default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--max-running", defaultValue = "64",
            description = "Requests each attention process runs at once; more wait (default: ${DEFAULT-VALUE}).")
    int maxRunning;

    @Option(names = "--max-waiting", defaultValue = "1024",
            description = "Requests each attention process queues; beyond that the API answers 429 (default: ${DEFAULT-VALUE}).")
    int maxWaiting;

    @Option(names = "--warmup-seconds", defaultValue = "30",
            description = "Longest warm-up of each attention process before the cluster counts as ready: synthetic "
                    + "batches through the pipeline until the JIT has compiled the kernels (default: ${DEFAULT-VALUE}; 0 = none).")
    int warmupSeconds;

    @Option(names = "--json", description = "One-shot mode: print the JSON document.")
    boolean json;

    @Option(names = "--dump", paramLabel = "FILE", description = "One-shot mode: write the JSON document with full logits to FILE.")
    Path dump;

    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path dir = model != null ? model : cachedTinyModel(out);
        int numExperts;
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            numExperts = ckpt.config().numExperts();
        }
        boolean serving = promptsFile == null;
        LocalCluster.Spec clusterSpec = new LocalCluster.Spec(dir, attention, experts, microBatches, transport, threads,
                replicate, trace, numExperts, pinCores, serving ? port : 0, maxRunning, maxWaiting)
                .withWarmup(Duration.ofSeconds(warmupSeconds));
        if (promptsFile == null && !json && dump == null) {
            out.printf("starting %d attention + %d expert processes, %d micro-batches, model %s ...%n",
                    attention, experts, microBatches, dir);
            if (warmupSeconds > 0) {
                out.printf("(each attention process warms up for up to %d s before it is ready; --warmup-seconds)%n",
                        warmupSeconds);
            }
            out.flush();
        }
        try (LocalCluster cluster = LocalCluster.start(clusterSpec, Duration.ofSeconds(120))) {
            Thread hook = new Thread(cluster::close, "local-stop");
            Runtime.getRuntime().addShutdownHook(hook);
            try {
                return promptsFile != null ? oneShot(cluster, out) : serve(cluster, out);
            } finally {
                Runtime.getRuntime().removeShutdownHook(hook);
            }
        }
    }

    private int oneShot(LocalCluster cluster, PrintWriter out) throws Exception {
        JsonNode prompts = JSON.readTree(Files.readString(promptsFile));
        if (prompts == null || !prompts.isArray() || prompts.isEmpty()) {
            throw new IllegalArgumentException("--prompts-file " + promptsFile + " must hold a non-empty JSON array");
        }
        int pods = cluster.attentionPods().size();
        // Round-robin the prompts over the attention processes; all run concurrently.
        List<List<Integer>> share = new ArrayList<>();
        for (int a = 0; a < pods; a++) {
            share.add(new ArrayList<>());
        }
        for (int i = 0; i < prompts.size(); i++) {
            share.get(i % pods).add(i);
        }
        List<CompletableFuture<JsonNode>> answers = new ArrayList<>();
        for (int a = 0; a < pods; a++) {
            int pod = a;
            ObjectNode body = JSON.createObjectNode();
            ArrayNode subset = body.putArray("prompts");
            share.get(a).forEach(i -> subset.add(prompts.get(i)));
            body.put("max_tokens", maxTokens).put("temperature", temperature).put("ignore_eos", ignoreEos)
                    .put("full_logits", dump != null);
            answers.add(subset.isEmpty() ? CompletableFuture.completedFuture(null) : CompletableFuture.supplyAsync(() -> {
                try {
                    HttpResponse<String> r = cluster.generate(pod, body.toString(), Duration.ofMinutes(10));
                    if (r.statusCode() != 200) {
                        throw new IllegalStateException("attention process " + pod + " answered " + r.statusCode() + ": " + r.body());
                    }
                    return JSON.readTree(r.body());
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException("attention process " + pod + ": " + e, e);
                }
            }));
        }
        JsonNode[] merged = new JsonNode[prompts.size()];
        for (int a = 0; a < pods; a++) {
            JsonNode doc = answers.get(a).get(11, TimeUnit.MINUTES);
            for (int j = 0; j < share.get(a).size(); j++) {
                merged[share.get(a).get(j)] = doc.get("results").get(j);
            }
        }
        ObjectNode doc = JSON.createObjectNode();
        doc.put("engine", "shuttle");
        ArrayNode results = doc.putArray("results");
        for (JsonNode r : merged) {
            results.add(r);
        }
        if (dump != null) {
            JSON.writeValue(dump.toFile(), doc);
        }
        for (JsonNode r : merged) {
            ((ObjectNode) r).remove(List.of("last_logits", "step_logits"));
        }
        if (json) {
            out.println(JSON.writeValueAsString(doc));
        } else {
            for (JsonNode r : merged) {
                out.println(r.get("text").asText());
            }
        }
        out.flush();
        return 0;
    }

    private int serve(LocalCluster cluster, PrintWriter out) throws Exception {
        for (LocalCluster.Pod p : cluster.attentionPods()) {
            out.printf("  attention %d  %s  (log %s)%n", p.ordinal(), p.url(), p.log());
        }
        for (LocalCluster.Pod p : cluster.expertPods()) {
            out.printf("  expert    %d  %s  (log %s)%n", p.ordinal(), p.url(), p.log());
        }
        String base = cluster.attentionPods().get(0).url();
        String model = modelName(base);
        out.println("prompt: " + prompt);
        out.print("answer: ");
        out.flush();
        streamDemo(base, model, out);
        out.println("   (random weights: gibberish by design)");
        out.printf("ready: OpenAI-compatible API at %s/v1 (model \"%s\"), metrics at %s/metrics. Try:%n", base, model, base);
        out.printf("  curl -N %s/v1/chat/completions -H 'Content-Type: application/json' \\%n"
                + "    -d '{\"model\": \"%s\", \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}], \"stream\": true, \"max_tokens\": 16}'%n",
                base, model);
        out.println("Press Ctrl-C to stop all processes.");
        out.flush();
        CountDownLatch never = new CountDownLatch(1);
        while (!never.await(500, TimeUnit.MILLISECONDS)) {
            var dead = cluster.deadPod();
            if (dead.isPresent()) {
                LocalCluster.Pod p = dead.get();
                spec.commandLine().getErr().printf("error: %s process %d exited (code %d); stopping the cluster. Log: %s%n",
                        p.role(), p.ordinal(), p.process().exitValue(), p.log());
                return 1;
            }
        }
        return 0;
    }

    private static String modelName(String base) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "/v1/models"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IllegalStateException("GET /v1/models answered " + r.statusCode() + ": " + r.body());
        }
        return JSON.readTree(r.body()).path("data").path(0).path("id").asText();
    }

    /** Streams the demo prompt's answer to the terminal through the chat API, piece by piece. */
    private void streamDemo(String base, String model, PrintWriter out) throws IOException, InterruptedException {
        ObjectNode body = JSON.createObjectNode();
        body.put("model", model).put("stream", true).put("max_tokens", maxTokens).put("temperature", temperature);
        body.putArray("messages").addObject().put("role", "user").put("content", prompt);
        java.net.http.HttpRequest req = java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "/v1/chat/completions"))
                .timeout(Duration.ofMinutes(2)).header("Content-Type", "application/json")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body.toString())).build();
        HttpResponse<java.util.stream.Stream<String>> r = HTTP.send(req, HttpResponse.BodyHandlers.ofLines());
        if (r.statusCode() != 200) {
            throw new IllegalStateException("the demo request failed with " + r.statusCode() + ": "
                    + String.join("\n", r.body().toList()));
        }
        try (var lines = r.body()) {
            for (String line : (Iterable<String>) lines::iterator) {
                if (!line.startsWith("data: ") || line.equals("data: [DONE]")) {
                    continue;
                }
                JsonNode chunk = JSON.readTree(line.substring(6));
                if (chunk.has("error")) {
                    throw new IllegalStateException("the demo request failed: " + chunk.get("error"));
                }
                out.print(chunk.path("choices").path(0).path("delta").path("content").asText(""));
                out.flush();
            }
        }
    }

    private static final java.net.http.HttpClient HTTP = java.net.http.HttpClient.newBuilder()
            .connectTimeout(Duration.ofSeconds(5)).build();

    /** The tiny preset under the Shuttle cache folder, generated on first use. */
    static Path cachedTinyModel(PrintWriter out) throws IOException {
        Path dir = ShuttlePaths.cacheDir().resolve("models").resolve("tiny-seed" + TINY_SEED);
        if (!Files.exists(dir.resolve("model.safetensors")) || !Files.exists(dir.resolve("tokenizer.json"))) {
            out.println("generating the tiny preset model into " + dir + " (first run only)");
            out.flush();
            Path partial = dir.resolveSibling(dir.getFileName() + ".partial");
            deleteRecursively(partial);
            CheckpointGenerator.write(Preset.tiny().config(), TINY_SEED, DType.BF16, partial);
            deleteRecursively(dir);
            Files.move(partial, dir); // readers never see a half-written model
        }
        return dir;
    }

    private static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (var walk = Files.walk(p)) {
            for (Path x : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(x);
            }
        }
    }
}
