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

import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * {@code shuttle bench pipeline}: the ping-pong pipeline between one attention and one expert
 * process, each pinned to its own core, for several micro-batch counts. Prints decode tokens/s,
 * the measured T_a, T_e, T_c per micro-batch, each process's idle (bubble) fraction, and the
 * throughput ratio to m = 1.
 */
@Command(name = "pipeline", mixinStandardHelpOptions = true,
        description = "Benchmark the attention/expert ping-pong pipeline on loopback for several micro-batch counts.")
final class BenchPipelineCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR",
            description = "Checkpoint (default: a generated model whose attention and expert work per token are equal).")
    Path model;

    @Option(names = "--attention", defaultValue = "1", description = "Attention processes (default: ${DEFAULT-VALUE}).")
    int attention;

    @Option(names = "--experts", defaultValue = "1", description = "Expert processes (default: ${DEFAULT-VALUE}).")
    int experts;

    @Option(names = "--micro-batches", split = ",", defaultValue = "1,2,3", description = "Micro-batch counts (default: ${DEFAULT-VALUE}).")
    int[] microBatches;

    @Option(names = "--batch", defaultValue = "64", description = "Sequences decoding together (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--steps", defaultValue = "32", description = "Decode steps timed (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--prompt-tokens", defaultValue = "16", description = "Prompt length (default: ${DEFAULT-VALUE}).")
    int promptTokens;

    @Option(names = "--transport", defaultValue = "auto", description = "M2N transport (default: ${DEFAULT-VALUE}).")
    String transport;

    @Option(names = "--no-pin", description = "Do not pin processes to cores.")
    boolean noPin;

    @Option(names = "--json", description = "One JSON object per micro-batch count.")
    boolean json;

    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (batch < 1 || steps < 1 || promptTokens < 1) {
            throw new IllegalArgumentException("--batch, --steps and --prompt-tokens must be ≥ 1");
        }
        Path dir = model != null ? model : balancedModel(out);
        int numExperts;
        int vocab;
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            numExperts = ckpt.config().numExperts();
            vocab = ckpt.config().vocabSize();
        }
        String body = requestBody(vocab, steps);
        String warmBody = requestBody(vocab, 8);
        double baseline = 0;
        double tc = Double.NaN;
        if (!json) {
            out.printf("model %s, %d attention + %d expert processes (%s), batch %d, %d decode steps%n",
                    dir, attention, experts, noPin ? "not pinned" : "one core each", batch, steps);
            out.println("  m  tokens/s  T_a(us)  T_e(us)  T_c(us)  idle attention  idle experts  vs m=1");
        }
        for (int m : microBatches) {
            var clusterSpec = new LocalCluster.Spec(dir, attention, experts, m, transport, 1, false, null, numExperts, !noPin);
            try (LocalCluster cluster = LocalCluster.start(clusterSpec, Duration.ofSeconds(120))) {
                post(cluster, warmBody);
                post(cluster, warmBody);
                JsonNode a0 = stats(cluster.attentionPods().get(0).url());
                JsonNode e0 = stats(cluster.expertPods().get(0).url());
                long t0 = System.nanoTime();
                post(cluster, body);
                double wall = System.nanoTime() - t0;
                JsonNode a1 = stats(cluster.attentionPods().get(0).url());
                JsonNode e1 = stats(cluster.expertPods().get(0).url());
                double rounds = delta(a1, a0, "rounds");
                double ta = delta(a1, a0, "attention_ns") / rounds;
                double te = delta(e1, e0, "compute_ns") / Math.max(1, delta(e1, e0, "rounds"));
                double waitPerRound = delta(a1, a0, "wait_ns") / rounds;
                if (m == 1 || Double.isNaN(tc)) {
                    tc = Math.max(0, (waitPerRound - te) / 2); // at m = 1 the attention waits exactly T_e + 2·T_c
                }
                double tokensPerS = batch * (double) steps / (wall / 1e9);
                double idleAttention = delta(a1, a0, "wait_ns") / wall;
                double idleExperts = delta(e1, e0, "wait_ns") / wall;
                if (baseline == 0) {
                    baseline = tokensPerS;
                }
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("micro_batches", m);
                row.put("tokens_per_s", round1(tokensPerS));
                row.put("t_a_us", round1(ta / 1e3));
                row.put("t_e_us", round1(te / 1e3));
                row.put("t_c_us", round1(tc / 1e3));
                row.put("bubble_fraction", round3(Math.max(idleAttention, idleExperts)));
                row.put("idle_attention", round3(idleAttention));
                row.put("idle_experts", round3(idleExperts));
                row.put("ratio_to_first", round3(tokensPerS / baseline));
                if (json) {
                    out.println(JSON.writeValueAsString(row));
                } else {
                    out.printf("%3d  %8.1f  %7.1f  %7.1f  %7.1f  %14.3f  %12.3f  %6.2fx%n", m, tokensPerS, ta / 1e3,
                            te / 1e3, tc / 1e3, idleAttention, idleExperts, tokensPerS / baseline);
                }
                out.flush();
            }
        }
        return 0;
    }

    private String requestBody(int vocab, int maxTokens) {
        SplittableRandom r = new SplittableRandom(5);
        ObjectNode body = JSON.createObjectNode();
        ArrayNode prompts = body.putArray("prompts");
        for (int i = 0; i < batch; i++) {
            ArrayNode ids = prompts.addArray();
            r.ints(promptTokens, 3, vocab).forEach(ids::add);
        }
        body.put("max_tokens", maxTokens).put("temperature", 0).put("ignore_eos", true);
        return body.toString();
    }

    private static void post(LocalCluster cluster, String body) throws Exception {
        HttpResponse<String> r = cluster.generate(0, body, Duration.ofMinutes(10));
        if (r.statusCode() != 200) {
            throw new IllegalStateException("the benchmark request failed: " + r.statusCode() + " " + r.body());
        }
    }

    private static JsonNode stats(String url) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url + "/stats"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        return JSON.readTree(r.body());
    }

    private static double delta(JsonNode after, JsonNode before, String field) {
        return after.get(field).asDouble() - before.get(field).asDouble();
    }

    private static double round1(double v) {
        return Math.round(v * 10) / 10.0;
    }

    private static double round3(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    /**
     * The default model: the small preset (hidden 512, GQA 8/4 heads of 64, 8 experts top-2)
     * with intermediate_size 256, so that per token the experts' multiply-adds (top-2 × 3 ×
     * 512 × 256 = 786k) equal attention's projections (q and o 512×512, k and v 256×512 = 786k);
     * with short prompts the attention over the cache is small, so T_a ≈ T_e at any batch size.
     */
    private static Path balancedModel(PrintWriter out) throws Exception {
        Path dir = ShuttlePaths.cacheDir().resolve("models").resolve("pipeline-bench-seed1");
        if (!Files.exists(dir.resolve("model.safetensors"))) {
            out.println("generating the pipeline benchmark model into " + dir
                    + " (small preset with intermediate_size 256: equal attention and expert work per token)");
            out.flush();
            Preset p = Preset.small().toBuilder().name("pipeline-bench").intermediateSize(256).build();
            Path partial = dir.resolveSibling(dir.getFileName() + ".partial");
            CheckpointGenerator.write(p.config(), 1, DType.BF16, partial);
            Files.move(partial, dir);
        }
        return dir;
    }
}
