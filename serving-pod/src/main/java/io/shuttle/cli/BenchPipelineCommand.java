package io.shuttle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.shuttle.model.Checkpoint;
import io.shuttle.serve.LocalCluster;
import io.shuttle.serve.PodSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
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
            description = "Checkpoint (default: a generated model whose intermediate_size makes the expert pod's time per"
                    + " decode step equal the attention pod's, from runs of the pods on this machine at the benchmark's batch and 2 micro-batches: one at intermediate_size 256, one at the size it chose).")
    Path model;

    /** The micro-batch count the default model is balanced for: the one the targets name. */
    private static final int BALANCE_MICRO_BATCHES = 2;
    /** Measured windows of the first balancing run. */
    private static final int BALANCE_SAMPLES = 5;
    /** ...and of the second, at the size the first chose. */
    private static final int REFINE_SAMPLES = 3;

    @Option(names = "--attention", defaultValue = "1", description = "Attention processes (default: ${DEFAULT-VALUE}).")
    int attention;

    @Option(names = "--experts", defaultValue = "1", description = "Expert processes (default: ${DEFAULT-VALUE}).")
    int experts;

    @Option(names = "--micro-batches", split = ",", defaultValue = "1,2,3", description = "Micro-batch counts (default: ${DEFAULT-VALUE}).")
    int[] microBatches;

    /**
     * The default batch. An expert round costs a fixed 0.45-0.8 ms per layer (every held expert's
     * weights streamed from memory, not overlapped with compute on these CPUs) plus 14-22 µs a
     * token, so m = 2 pays that fixed cost twice: at batch 64 two half rounds cost 1.3 whole
     * ones (m = 2 1.50x), at 256 1.15 (1.64-1.79x), at 512 about 1.07 (1.80-1.84x). 512 is half
     * of vLLM's default {@code max_num_seqs} on GPUs of 70 GiB and more (1024; 256 below that),
     * the class of machine this serves MoE models on, and MegaScale-Infer's point is the same:
     * experts need large batches to be compute-bound (docs/BENCHMARKS.md).
     */
    static final int DEFAULT_BATCH = 512;

    @Option(names = "--batch", defaultValue = "" + DEFAULT_BATCH,
            description = "Sequences decoding together (default: ${DEFAULT-VALUE}: large enough that each expert round's fixed cost,"
                    + " streaming the experts' weights, is a small share of it; docs/BENCHMARKS.md).")
    int batch;

    @Option(names = "--steps", defaultValue = "32", description = "Decode steps timed (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--prompt-tokens", defaultValue = "16", description = "Prompt length (default: ${DEFAULT-VALUE}). Decode"
            + " attention reads every token's keys and values, so T_a grows with the context during the measured steps:"
            + " by about half at 16 (docs/BENCHMARKS.md).")
    int promptTokens;

    @Option(names = "--transport", defaultValue = "auto", description = "M2N transport (default: ${DEFAULT-VALUE}).")
    String transport;

    @Option(names = "--no-pin", description = "Do not pin processes to cores.")
    boolean noPin;

    /**
     * At batch 512 one measured request takes 6-9 s, and the m = 1 clusters on the Intel VM needed
     * 109-129 s to settle (at 256, 107-117 s of the 120 s cap then): 300 s leaves a margin.
     */
    @Option(names = "--warmup-seconds", defaultValue = "300",
            description = "Longest warm-up per cluster: the measured request runs until its last three times agree within 5 %% and neither pod's JIT compiled during the last one (default: ${DEFAULT-VALUE}).")
    int warmupSeconds;

    /**
     * Side by side is the default: measured cluster after cluster, the same model gave m = 2 ratios
     * of 1.37-1.77x on one VM, because whole clusters differ by 1.3-2x there; side by side the
     * ratios of five windows agreed within 1.36-1.42x (docs/BENCHMARKS.md).
     */
    @Option(names = "--side-by-side", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Start one cluster per micro-batch count, all at once, and measure them in turn, window after "
                    + "window (--repeat windows each): a slow minute on a shared machine falls on every m alike. "
                    + "Needs the memory of all clusters together; each idle one costs its cores a few per cent. "
                    + "--no-side-by-side starts, measures and stops them one after another (default: side by side).")
    boolean sideBySide;

    @Option(names = "--json", description = "One JSON object per micro-batch count.")
    boolean json;

    @Option(names = "--repeat", defaultValue = "3",
            description = "Runs of the whole micro-batch sequence, interleaved; figures are the medians, ratios the median of each run's own (default: ${DEFAULT-VALUE}).")
    int repeat;

    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (batch < 1 || steps < 1 || promptTokens < 1 || repeat < 1 || warmupSeconds < 0) {
            throw new IllegalArgumentException("--batch, --steps, --prompt-tokens and --repeat must be ≥ 1, --warmup-seconds ≥ 0");
        }
        PrintWriter log = spec.commandLine().getErr(); // progress: --json output stays one object per line
        Path dir = model != null ? model : PipelineBalance.model(PipelineBalance.START_INTERMEDIATE, log);
        int numExperts;
        int vocab;
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            numExperts = ckpt.config().numExperts();
            numLayers = ckpt.config().numLayers();
            vocab = ckpt.config().vocabSize();
        }
        // Decode only: the same prompts run with PREFIX_STEPS and with PREFIX_STEPS + steps new
        // tokens, and every figure is the difference of the two, so the prefill (1,024 tokens at
        // the defaults, a quarter of a 32-step request's time) and the request's set-up cancel out.
        String body = requestBody(vocab, PREFIX_STEPS + steps);
        String warmBody = requestBody(vocab, PREFIX_STEPS);
        if (model == null) {
            // The default model: balanced by runs of the pods themselves (PipelineBalance), first
            // at the start size, then once more at the size that run chose.
            int start = PipelineBalance.START_INTERMEDIATE;
            PipelineBalance.StepBusy first = balanceRun(dir, numExperts, body, warmBody, BALANCE_SAMPLES);
            int chosen = PipelineBalance.balancedIntermediate(start, first);
            logBalance(log, start, first, chosen);
            if (chosen != start) {
                dir = PipelineBalance.model(chosen, log);
                PipelineBalance.StepBusy second = balanceRun(dir, numExperts, body, warmBody, REFINE_SAMPLES);
                int refined = PipelineBalance.refinedIntermediate(start, first, chosen, second);
                logBalance(log, chosen, second, refined);
                chosen = refined;
            }
            dir = PipelineBalance.model(chosen, log);
        }
        if (!json) {
            out.printf("model %s, %d attention + %d expert processes (%s), batch %d, %d decode steps, %d run(s)%s%n",
                    dir, attention, experts, noPin ? "not pinned" : "one core each", batch, steps, repeat,
                    sideBySide ? ", all clusters side by side" : "");
            out.println("run  m  tokens/s  T_a(us)  T_e(us)  T_c(us)  lm_head/step(us)  idle attention  idle experts (layer 0)  vs m=" + microBatches[0]
                    + "  no bubbles  model: ratio, idle att/exp  warm-up(s)");
        }
        // Runs interleave the micro-batch counts, so a slow minute on a shared machine falls on
        // all of them; each run's ratios are its own.
        List<List<Map<String, Object>>> byM = new ArrayList<>();
        for (int i = 0; i < microBatches.length; i++) {
            byM.add(new ArrayList<>());
        }
        boolean unsettled = false;
        List<LocalCluster> clusters = new ArrayList<>();
        List<WarmUp> warmUps = new ArrayList<>();
        try {
            if (sideBySide) {
                for (int m : microBatches) {
                    LocalCluster c = LocalCluster.start(clusterSpec(dir, numExperts, m), Duration.ofSeconds(120));
                    clusters.add(c);
                    warmUps.add(warmUp(c, body, warmupSeconds));
                }
            }
            for (int run = 1; run <= repeat; run++) {
                double baseline = 0;
                double modelBaseline = 0;
                double tc = Double.NaN;
                for (int i = 0; i < microBatches.length; i++) {
                    Map<String, Object> row = sideBySide
                            ? windows(clusters.get(i), warmUps.get(i), microBatches[i], body, warmBody, tc, 1).get(0)
                            : measure(dir, numExperts, microBatches[i], body, warmBody, tc, warmupSeconds);
                    double tokensPerS = (double) row.get("tokens_per_s");
                    if (i == 0) {
                        baseline = tokensPerS;
                        tc = (double) row.get("t_c_us") * 1e3;
                    }
                    row.put("ratio_to_first", round3(tokensPerS / baseline));
                    row.put("no_bubble_ratio", i == 0 ? null : round3(noBubbleRatio(row)));
                    if (i == 0) {
                        modelBaseline = (double) row.get("model_tokens_per_s");
                    }
                    row.put("model_ratio", round3((double) row.get("model_tokens_per_s") / modelBaseline));
                    row.put("side_by_side", sideBySide);
                    byM.get(i).add(row);
                    if (!json) {
                        boolean settled = (Boolean) row.get("warmup_settled");
                        unsettled |= !settled;
                        out.printf("%3d %2d  %8.1f  %7.1f  %7.1f  %7.1f  %16.1f  %14.3f  %12.3f (%5.3f)  %6.2fx  %10s  %s  %10.1f%s%n", run,
                                microBatches[i], tokensPerS, row.get("t_a_us"), row.get("t_e_us"), row.get("t_c_us"),
                                row.get("lm_head_us_per_step"), row.get("idle_attention"), row.get("idle_experts"),
                                row.get("idle_experts_layer0"),
                                row.get("ratio_to_first"), noBubbleText(row), modelText(row), row.get("warmup_s"), settled ? "" : " *");
                        out.flush();
                    } else if (repeat == 1) {
                        out.println(JSON.writeValueAsString(row));
                        out.flush();
                    }
                }
            }
        } finally {
            for (LocalCluster c : clusters) {
                c.close();
            }
        }
        if (unsettled && !json) {
            out.printf("* warm-up did not settle within %d s (request times kept varying by more than 5 %% or the JIT kept"
                    + " compiling): that row measured a disturbed cluster; compare it with care, or raise --warmup-seconds%n",
                    warmupSeconds);
        }
        if (repeat > 1) {
            if (!json) {
                out.println("median of " + repeat + " runs (the run with the median tokens/s; ratio: median of the runs' ratios):");
            }
            for (int i = 0; i < microBatches.length; i++) {
                List<Map<String, Object>> rows = new ArrayList<>(byM.get(i));
                List<Double> ratios = rows.stream().map(r -> (Double) r.get("ratio_to_first")).sorted().toList();
                List<Double> rates = rows.stream().map(r -> (Double) r.get("tokens_per_s")).toList();
                rows.sort(java.util.Comparator.comparingDouble(r -> (Double) r.get("tokens_per_s")));
                Map<String, Object> med = new LinkedHashMap<>(rows.get(rows.size() / 2));
                med.put("ratio_to_first", ratios.get(ratios.size() / 2));
                if (i > 0) {
                    List<Double> bounds = rows.stream().map(r -> (Double) r.get("no_bubble_ratio")).sorted().toList();
                    med.put("no_bubble_ratio", bounds.get(bounds.size() / 2));
                }
                List<Double> modelRatios = rows.stream().map(r -> (Double) r.get("model_ratio")).sorted().toList();
                med.put("model_ratio", modelRatios.get(modelRatios.size() / 2));
                med.put("runs_tokens_per_s", rates);
                if (json) {
                    out.println(JSON.writeValueAsString(med));
                } else {
                    out.printf("med %2d  %8.1f  %7.1f  %7.1f  %7.1f  %16.1f  %14.3f  %12.3f (%5.3f)  %6.2fx  %10s  %s   runs: %s%n",
                            microBatches[i], med.get("tokens_per_s"), med.get("t_a_us"), med.get("t_e_us"),
                            med.get("t_c_us"), med.get("lm_head_us_per_step"), med.get("idle_attention"),
                            med.get("idle_experts"), med.get("idle_experts_layer0"), med.get("ratio_to_first"), noBubbleText(med),
                            modelText(med), rates);
                }
            }
            out.flush();
        }
        return 0;
    }

    /** Each pod's median busy time per decode step over {@code samples} windows of one warmed-up cluster at m = 2. */
    private PipelineBalance.StepBusy balanceRun(Path dir, int numExperts, String body, String warmBody, int samples)
            throws Exception {
        // Several windows, the median of each busy time: single windows on this VM put the same
        // FFN at 9.4 or 14.7 ms per step.
        int m = BALANCE_MICRO_BATCHES;
        List<PipelineBalance.StepBusy> windows = new ArrayList<>();
        for (Map<String, Object> row : measure(dir, numExperts, m, body, warmBody, Double.NaN, warmupSeconds, samples)) {
            windows.add(stepBusy(row, m));
        }
        return PipelineBalance.StepBusy.median(windows);
    }

    private void logBalance(PrintWriter log, int intermediate, PipelineBalance.StepBusy busy, int next) {
        log.printf("balance: at intermediate_size %d, m = %d, batch %d the attention pod is busy %.0f µs per decode step,"
                        + " the expert pod %.0f µs in the expert FFN and %.0f µs otherwise: %s%n",
                intermediate, BALANCE_MICRO_BATCHES, batch, busy.attentionMicros(), busy.expertFfnMicros(),
                busy.expertOtherMicros(), next == intermediate ? "balanced within "
                        + Math.round(PipelineBalance.BALANCED_WITHIN * 100) + " %" : "intermediate_size " + next);
        log.flush();
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

    /**
     * One cluster with {@code m} micro-batches: warm-up, then the decode-only figures. T_c comes
     * from an m = 1 run (at m = 1 a round's dispatch plus wait on the attention pod is exactly
     * T_e + 2·T_c: the expert starts when the dispatch arrives, which may be before the
     * attention pod's send call returns, so the wait alone can be shorter than T_e); other
     * runs report {@code tcFromFirst}.
     */
    private Map<String, Object> measure(Path dir, int numExperts, int m, String body, String warmBody, double tcFromFirst,
                                        int warmupLimitSeconds) throws Exception {
        return measure(dir, numExperts, m, body, warmBody, tcFromFirst, warmupLimitSeconds, 1).get(0);
    }

    /** As above, {@code samples} measured windows of the same warmed-up cluster. */
    private List<Map<String, Object>> measure(Path dir, int numExperts, int m, String body, String warmBody,
                                              double tcFromFirst, int warmupLimitSeconds, int samples) throws Exception {
        try (LocalCluster cluster = LocalCluster.start(clusterSpec(dir, numExperts, m), Duration.ofSeconds(120))) {
            return windows(cluster, warmUp(cluster, body, warmupLimitSeconds), m, body, warmBody, tcFromFirst, samples);
        }
    }

    private LocalCluster.Spec clusterSpec(Path dir, int numExperts, int m) {
        // Admit the whole batch at once and prefill it in one step: with the cluster's defaults (64
        // running requests, 256 tokens a step) a larger --batch would decode in waves, or its
        // prefill would outlast the 8-step prefix request, and the decode-only difference
        // would measure a different batch than it names (the round count check catches both).
        // The pods warm themselves up as in production (at most --warmup-seconds), then the
        // benchmark's own warm-up runs the measured request until it is steady.
        return new LocalCluster.Spec(dir, attention, experts, m, transport, 1, false, null, numExperts, !noPin,
                0, Math.max(64, batch), 1024,
                Math.max(LocalCluster.Spec.DEFAULT_MAX_BATCH_TOKENS, batch * promptTokens))
                .withWarmup(Duration.ofSeconds(Math.min(warmupSeconds, PodSettings.DEFAULT_WARMUP.toSeconds())))
                .withKvBlocks(kvBlocks());
    }

    /**
     * KV cache blocks for each attention pod: the whole batch at its longest (prompt, prefix and
     * measured steps) must fit at once, or it would decode in waves, which the round count check
     * refuses. The local cluster's default (32,768 tokens) held batch 512 only up to 24 prompt tokens.
     */
    int kvBlocks() {
        long perSequence = Math.ceilDiv(promptTokens + PREFIX_STEPS + steps, LocalCluster.Spec.KV_BLOCK_TOKENS);
        return (int) Math.min(Integer.MAX_VALUE, Math.max(LocalCluster.Spec.DEFAULT_KV_BLOCKS, batch * perSequence));
    }

    /** {@code samples} measured windows of a warmed-up cluster. */
    private List<Map<String, Object>> windows(LocalCluster cluster, WarmUp warmup, int m, String body, String warmBody,
                                              double tcFromFirst, int samples) throws Exception {
        List<Map<String, Object>> rows = new ArrayList<>();
        // The figures are differences of two requests; a hiccup in either (a deoptimisation, a
        // neighbour on the host) can invert one. Such a window is measured again, up to 3 times.
        for (int attempt = 1; rows.size() < samples; attempt++) {
            try {
                Map<String, Object> row = measureOnce(cluster, m, body, warmBody, tcFromFirst);
                row.put("warmup_s", round1(warmup.seconds()));
                row.put("warmup_settled", warmup.settled());
                rows.add(row);
            } catch (NoisyWindowException e) {
                if (attempt >= samples + 2) {
                    throw new IllegalStateException(e.getMessage() + " (" + attempt + " attempts)");
                }
            }
        }
        return rows;
    }

    /** A measured window whose differences noise made meaningless (negative times, idle outside 0..1). */
    private static final class NoisyWindowException extends Exception {
        NoisyWindowException(String message) {
            super(message);
        }
    }

    private Map<String, Object> measureOnce(LocalCluster cluster, int m, String body, String warmBody, double tcFromFirst)
            throws Exception {
        Sample prefix = sample(cluster, warmBody);
        Sample whole = sample(cluster, body);
        double wall = whole.wallNanos() - prefix.wallNanos();
        JsonNode a0 = diff(prefix.attention()); // decode steps only: whole − prefix
        JsonNode a1 = diff(whole.attention());
        JsonNode e0 = diff(prefix.experts());
        JsonNode e1 = diff(whole.experts());
        double rounds = delta(a1, a0, "rounds");
        double expectedRounds = (double) steps * numLayers * m;
        if (attention == 1 && rounds != expectedRounds) {
            throw new IllegalStateException("the " + steps + " measured decode steps took " + (long) rounds
                    + " attention rounds, not " + (long) expectedRounds + " (" + numLayers + " layers × " + m
                    + " micro-batches per step; the " + PREFIX_STEPS + "-token request took " + (long) a0.path("rounds").asDouble()
                    + " and the " + (PREFIX_STEPS + steps) + "-token one " + (long) a1.path("rounds").asDouble()
                    + "): the batch of " + batch + " did not decode as one");
        }
        double ta = delta(a1, a0, "attention_ns") / rounds;
        double te = delta(e1, e0, "compute_ns") / Math.max(1, delta(e1, e0, "busy_rounds"));
        double waitPerRound = (delta(a1, a0, "wait_ns") + delta(a1, a0, "dispatch_ns")) / rounds;
        double logitsPerStep = delta(a1, a0, "logits_ns") / steps;
        double tc = m == 1 || Double.isNaN(tcFromFirst) ? Math.max(0, (waitPerRound - te) / 2) : tcFromFirst;
        double idleAttention = delta(a1, a0, "wait_ns") / wall;
        if (wall <= 0 || ta <= 0 || te <= 0 || waitPerRound < 0 || idleAttention < 0 || idleAttention > 1) {
            throw new NoisyWindowException(String.format("the %d measured decode steps came out at %.0f µs of wall time,"
                    + " T_a %.0f µs, T_e %.0f µs and an attention idle share of %.2f: the difference between the %d- and %d-token requests is"
                    + " smaller than their run-to-run noise; raise --steps or --warmup-seconds", steps, wall / 1e3,
                    ta / 1e3, te / 1e3, idleAttention, PREFIX_STEPS, PREFIX_STEPS + steps));
        }
        double tokensPerS = batch * (double) steps / (wall / 1e9);
        // An expert pod's wait spans the gaps between requests, so its idle share is taken
        // from what it did: 1 − (computing + combining) ÷ wall time.
        double idleExperts = Math.max(0, 1 - (delta(e1, e0, "compute_ns") + delta(e1, e0, "combine_ns")) / wall);
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("micro_batches", m);
        row.put("tokens_per_s", round1(tokensPerS));
        row.put("t_a_us", round1(ta / 1e3));
        row.put("t_e_us", round1(te / 1e3));
        row.put("t_c_us", round1(tc / 1e3));
        row.put("lm_head_us_per_step", round1(logitsPerStep / 1e3));
        row.put("bubble_fraction", round3(Math.max(idleAttention, idleExperts)));
        row.put("idle_attention", round3(idleAttention));
        row.put("idle_experts", round3(idleExperts));
        // Of that, the waits for layer 0: the attention pod's step boundary (lm_head, sampling).
        row.put("idle_experts_layer0", round3(Math.clamp(delta(e1, e0, "wait_layer0_ns") / wall, 0, idleExperts)));
        // The same round times with no noise: what the pipeline's structure alone would give.
        // T_c counts the expert pod's combine (it is in the attention pod's wait): the model has
        // the combine in the expert round, so its hop is T_c less half of it.
        double combinePerRound = Math.max(0, delta(e1, e0, "combine_ns") / Math.max(1, delta(e1, e0, "busy_rounds")));
        // Differences of two requests: on a tiny model noise can take one below zero.
        double boundary = Math.max(0, (delta(a1, a0, "logits_ns") + delta(a1, a0, "host_ns")) / ((double) steps * m));
        PipelineTimeline.Result model = PipelineTimeline.simulate(new PipelineTimeline.Params(numLayers, m, ta / 1e3,
                Math.max(0, te + combinePerRound) / 1e3, boundary / 1e3, Math.max(0, tc - combinePerRound / 2) / 1e3));
        row.put("model_tokens_per_s", round1(batch / model.stepMicros() * 1e6));
        row.put("model_idle_attention", round3(model.idleAttention()));
        row.put("model_idle_experts", round3(model.idleExperts()));
        return row;
    }

    private static final int PREFIX_STEPS = 8;

    /**
     * The ratio to the first micro-batch count that this row's cluster would reach if its pipeline
     * had no bubbles: each step as long as the busier pod's work, {@code step · (1 − min(idle))}.
     * What is left between it and the measured ratio is the pipeline's doing (hops, the step
     * boundaries); what is left between it and m is the work itself growing with m (an expert
     * round's fixed cost, {@code bench experts}).
     */
    static double noBubbleRatio(Map<String, Object> row) {
        double idle = Math.min((double) row.get("idle_attention"), (double) row.get("idle_experts"));
        return (double) row.get("ratio_to_first") / (1 - idle);
    }

    /**
     * {@link PipelineTimeline} fed this row's mean round times, the boundary (lm_head, sampling,
     * inputs) and T_c: its ratio to the first row's model and its idle shares. What lies between
     * the model and the measured row is noise and the round times' spread (T_a grows with the
     * context during the window).
     */
    private static String modelText(Map<String, Object> row) {
        return String.format("%5.2fx %5.3f/%5.3f", (double) row.get("model_ratio"), (double) row.get("model_idle_attention"),
                (double) row.get("model_idle_experts"));
    }

    private static String noBubbleText(Map<String, Object> row) {
        Object v = row.get("no_bubble_ratio");
        return v == null ? "" : String.format("%.2fx", (double) v);
    }

    /** Each pod's busy time per decode step in a measured row (at {@code m} micro-batches). */
    private PipelineBalance.StepBusy stepBusy(Map<String, Object> row, int m) {
        double stepMicros = batch / (double) row.get("tokens_per_s") * 1e6;
        double attentionBusy = stepMicros * (1 - (double) row.get("idle_attention"));
        double expertBusy = stepMicros * (1 - (double) row.get("idle_experts"));
        double ffn = (double) row.get("t_e_us") * numLayers * m; // every round has rows at these batches
        return new PipelineBalance.StepBusy(attentionBusy, ffn, Math.max(0, expertBusy - ffn));
    }

    /**
     * Runs the measured request until it is in steady state: its last three wall times within 5 %
     * of each other (at least three runs) and neither pod's JIT busy during the last one (its
     * compile time grew by at most 1 % of the request's wall time), or --warmup-seconds. On a
     * pinned core the JIT shares the core with the compute thread, and a fixed warm-up left
     * different m in differently compiled code: with two warm-up requests m = 1 ran at
     * 1,260-1,411 tok/s, with eight at 1,553, and an expert pod's T_e at m = 2 (batch 256) fell
     * from 5.1 ms after 20 s to 3.0 ms after 60 s. Request times alone could also agree while C2
     * was still compiling: the same cluster then ran m = 2 at 1,685 or 3,442 tok/s. Returns the
     * warm-up's seconds and whether it settled (false: the limit ended it).
     */
    private WarmUp warmUp(LocalCluster cluster, String body, int limitSeconds) throws Exception {
        long start = System.nanoTime();
        long deadline = start + Duration.ofSeconds(limitSeconds).toNanos();
        double[] last = new double[3];
        long jit = jitMillis(cluster);
        for (int n = 0; ; n++) {
            long t0 = System.nanoTime();
            post(cluster, body);
            last[n % 3] = System.nanoTime() - t0;
            long jitNow = jitMillis(cluster);
            boolean jitQuiet = (jitNow - jit) * 1e6 <= 0.01 * last[n % 3];
            jit = jitNow;
            double min = Math.min(last[0], Math.min(last[1], last[2]));
            double max = Math.max(last[0], Math.max(last[1], last[2]));
            boolean settled = n >= 2 && max <= 1.05 * min && jitQuiet;
            if (settled || System.nanoTime() > deadline) {
                return new WarmUp((System.nanoTime() - start) / 1e9, settled);
            }
        }
    }

    /**
     * How a cluster's warm-up ended. One that did not settle measured a cluster whose request
     * times kept varying or whose JIT kept compiling: on the 2-vCPU VMs every such run seen had
     * the attention pod 1.3–3× slower per round than settled runs of the same work.
     */
    private record WarmUp(double seconds, boolean settled) {
    }

    /** The JIT compile time of the first attention and expert pods together (ms; 0 when they do not report it). */
    private static long jitMillis(LocalCluster cluster) throws Exception {
        long a = stats(cluster.attentionPods().get(0).url()).path("jit_compile_ms").asLong(0);
        long e = stats(cluster.expertPods().get(0).url()).path("jit_compile_ms").asLong(0);
        return Math.max(0, a) + Math.max(0, e);
    }

    /** Layers of the benchmarked model: a decode step is layers × m attention rounds. */
    private int numLayers;

    /** One request's wall time and the /stats counters it added on the first attention and expert pod. */
    private record Sample(double wallNanos, JsonNode[] attention, JsonNode[] experts) {
    }

    private static Sample sample(LocalCluster cluster, String body) throws Exception {
        JsonNode a0 = stats(cluster.attentionPods().get(0).url());
        JsonNode e0 = stats(cluster.expertPods().get(0).url());
        long t0 = System.nanoTime();
        post(cluster, body);
        double wall = System.nanoTime() - t0;
        return new Sample(wall, new JsonNode[] {a0, stats(cluster.attentionPods().get(0).url())},
                new JsonNode[] {e0, stats(cluster.expertPods().get(0).url())});
    }

    /** The counters a sample added (after − before), as a stats object. */
    private static JsonNode diff(JsonNode[] beforeAfter) {
        ObjectNode d = JSON.createObjectNode();
        beforeAfter[1].fieldNames().forEachRemaining(f -> {
            if (beforeAfter[1].get(f).isNumber() && beforeAfter[0].has(f)) {
                d.put(f, delta(beforeAfter[1], beforeAfter[0], f));
            }
        });
        return d;
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
}
