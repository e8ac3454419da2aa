package io.shuttle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code shuttle trace stats}: the distribution of each pipeline phase in a trace (from
 * {@code --trace}), and the two hand-offs between the pools measured across processes: from an
 * attention pod starting a round's dispatch to the expert pod's wait for it ending, and from the
 * expert pod's combine ending to the attention pod's wait for it ending; and both again counted
 * from when the receiving pod began waiting for that round, if that was later (at m ≥ 2 the
 * receiver is often still computing another micro-batch). Those hand-offs are
 * where T_c goes (wire, wake-ups, the other side's progress thread); the pods' own counters
 * only give T_c as a difference of sums. Timestamps of different processes are comparable
 * because every pod stamps with the host's monotonic clock ({@code System.nanoTime}).
 */
@Command(name = "stats", mixinStandardHelpOptions = true,
        description = "Per-phase medians and the cross-process hand-off times of a pipeline trace.")
final class TraceStatsCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--in", required = true, description = "Trace file written by --trace.")
    Path in;

    @Option(names = "--from-step", defaultValue = "-1",
            description = "First step counted (default: the middle step, so the JIT's warm-up is left out).")
    long fromStep;

    @Option(names = "--json", description = "One JSON object instead of a table.")
    boolean json;

    /** Distribution of one figure, µs. */
    record Summary(int count, double median, double p10, double p90, double mean) {
        static Summary of(List<Double> values) {
            double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            if (v.length == 0) {
                return new Summary(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
            }
            return new Summary(v.length, percentile(v, 0.5), percentile(v, 0.1), percentile(v, 0.9),
                    Arrays.stream(v).average().orElse(Double.NaN));
        }

        /** Nearest-rank percentile of sorted values. */
        private static double percentile(double[] sorted, double q) {
            int i = (int) Math.ceil(q * sorted.length) - 1;
            return sorted[Math.clamp(i, 0, sorted.length - 1)];
        }
    }

    /** What {@link #analyse} found: per-phase durations, then the hand-offs, in µs; and the steps counted. */
    record Stats(Map<String, Summary> phases, Map<String, Summary> handOffs, long fromStep, long toStep) {
    }

    private record Span(double start, double end) {
    }

    @Override
    public Integer call() throws Exception {
        Stats s = analyse(readTrace(in), fromStep);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectMapper m = new ObjectMapper();
            ObjectNode doc = m.createObjectNode();
            doc.put("from_step", s.fromStep()).put("to_step", s.toStep());
            ObjectNode phases = doc.putObject("phases_us");
            s.phases().forEach((k, v) -> phases.set(k, m.valueToTree(v)));
            ObjectNode hand = doc.putObject("hand_offs_us");
            s.handOffs().forEach((k, v) -> hand.set(k, m.valueToTree(v)));
            out.println(m.writeValueAsString(doc));
        } else {
            out.printf("%s: steps %d-%d%n", in, s.fromStep(), s.toStep());
            out.printf("%-44s %8s %10s %10s %10s %10s%n", "phase (µs)", "count", "median", "p10", "p90", "mean");
            s.phases().forEach((k, v) -> row(out, k, v));
            out.println("hand-offs between the pools (µs; across processes, one host's clock):");
            s.handOffs().forEach((k, v) -> row(out, k, v));
        }
        out.flush();
        return 0;
    }

    /** A trace file's JSON, or an error naming the file when it is not one. */
    static JsonNode readTrace(Path file) throws java.io.IOException {
        try {
            return new ObjectMapper().readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(file + " is not a trace written by --trace (not JSON: "
                    + e.getOriginalMessage() + ")");
        }
    }

    private static void row(PrintWriter out, String name, Summary v) {
        out.printf("%-44s %8d %10.1f %10.1f %10.1f %10.1f%n", name, v.count(), v.median(), v.p10(), v.p90(), v.mean());
    }

    /**
     * Phases are the trace's complete events named "phase L&lt;layer&gt;", grouped by process role
     * (the process name's first word) and phase; steps before {@code fromStep} (−1: the middle
     * step) are left out. A hand-off pairs an attention pod's event of round (step, layer,
     * micro-batch) with the expert pod's event of the same round.
     */
    static Stats analyse(JsonNode events, long fromStep) {
        Map<Integer, String> roles = new HashMap<>();
        List<JsonNode> spans = new ArrayList<>();
        for (JsonNode e : events.isArray() ? events : events.path("traceEvents")) {
            if ("M".equals(e.path("ph").asText())) {
                String name = e.path("args").path("name").asText("");
                roles.put(e.path("pid").asInt(), name.isEmpty() ? "pid " + e.path("pid").asInt() : name.split("[ -]")[0]);
            } else if ("X".equals(e.path("ph").asText()) && e.path("args").has("layer")) {
                spans.add(e);
            }
        }
        if (spans.isEmpty()) {
            throw new IllegalArgumentException("the trace has no per-layer phases; record one with bin/shuttle local … --trace FILE");
        }
        long[] steps = spans.stream().mapToLong(e -> e.path("args").path("step").asLong()).sorted().toArray();
        long first = fromStep >= 0 ? fromStep : steps[steps.length / 2];
        long last = steps[steps.length - 1];
        if (first > last) {
            throw new IllegalArgumentException("--from-step " + fromStep + " is past the trace's last step, " + last);
        }
        Map<String, List<Double>> phases = new LinkedHashMap<>();
        // (pid, phase, step, layer, micro-batch) → span, for the hand-offs.
        Map<String, Span> byRound = new HashMap<>();
        for (JsonNode e : spans) {
            JsonNode a = e.path("args");
            long step = a.path("step").asLong();
            if (step < first) {
                continue;
            }
            String name = e.path("name").asText();
            int cut = name.lastIndexOf(" L");
            String phase = cut > 0 ? name.substring(0, cut) : name;
            int pid = e.path("pid").asInt();
            String role = roles.getOrDefault(pid, "pid " + pid);
            double ts = e.path("ts").asDouble();
            double dur = e.path("dur").asDouble();
            phases.computeIfAbsent(role + ": " + phase, k -> new ArrayList<>()).add(dur);
            byRound.put(pid + "|" + phase + "|" + step + "|" + a.path("layer").asInt() + "|" + a.path("micro_batch").asInt(),
                    new Span(ts, ts + dur));
        }
        // Expert pods that served each round: "step|layer|micro-batch" → their pids.
        Map<String, List<String>> servedBy = new HashMap<>();
        for (String key : byRound.keySet()) {
            String[] k = key.split("\\|", 3);
            if (k[1].equals("wait attention")) {
                servedBy.computeIfAbsent(k[2], r -> new ArrayList<>()).add(k[0]);
            }
        }
        List<Double> dispatchToExpert = new ArrayList<>();
        List<Double> combineToAttention = new ArrayList<>();
        // The same, counted from when the receiver was ready for the round: at m ≥ 2 the expert
        // is often still computing the other micro-batch when a dispatch starts, and the
        // attention pod still computing when a combine ends. That time is the pipeline's overlap,
        // not transfer; what is left is what a hop costs the pipeline.
        List<Double> dispatchToWaitingExpert = new ArrayList<>();
        List<Double> combineToWaitingAttention = new ArrayList<>();
        for (Map.Entry<String, Span> d : byRound.entrySet()) {
            String[] k = d.getKey().split("\\|", 3);
            if (!k[1].equals("dispatch")) {
                continue;
            }
            Span attentionWait = byRound.get(k[0] + "|wait experts|" + k[2]);
            for (String expertPid : servedBy.getOrDefault(k[2], List.of())) {
                Span expertWait = byRound.get(expertPid + "|wait attention|" + k[2]);
                dispatchToExpert.add(expertWait.end() - d.getValue().start());
                dispatchToWaitingExpert.add(expertWait.end() - Math.max(d.getValue().start(), expertWait.start()));
                Span combine = byRound.get(expertPid + "|combine|" + k[2]);
                if (combine != null && attentionWait != null) {
                    combineToAttention.add(attentionWait.end() - combine.end());
                    combineToWaitingAttention.add(attentionWait.end() - Math.max(combine.end(), attentionWait.start()));
                }
            }
        }
        Map<String, Summary> phaseStats = new LinkedHashMap<>();
        phases.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(en -> phaseStats.put(en.getKey(), Summary.of(en.getValue())));
        Map<String, Summary> hand = new LinkedHashMap<>();
        hand.put("dispatch start -> expert pod has the round", Summary.of(dispatchToExpert));
        hand.put("combine end -> attention pod has the results", Summary.of(combineToAttention));
        hand.put("dispatch -> expert pod, once it waits", Summary.of(dispatchToWaitingExpert));
        hand.put("combine -> attention pod, once it waits", Summary.of(combineToWaitingAttention));
        return new Stats(phaseStats, hand, first, last);
    }
}
