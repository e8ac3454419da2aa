package io.shuttle.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.shuttle.engine.ExpertRoundBench;
import io.shuttle.engine.ExpertWeights;
import io.shuttle.kernels.Backend;
import io.shuttle.kernels.Backends;
import io.shuttle.model.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code shuttle bench experts}: an expert pod's cost per (layer, round) against the rows in the
 * round, and the line through them (a fixed cost per round plus a cost per row). It says how much
 * the expert side can gain from micro-batches at a given batch: at m micro-batches each round has
 * 1/m of the rows, so m rounds cost {@code m·fixed + perRow·rows}.
 */
@Command(name = "experts", mixinStandardHelpOptions = true,
        description = "Benchmark an expert pod's grouped expert FFN per round against the rows in the round.")
final class BenchExpertsCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face checkpoint folder.")
    Path model;

    @Option(names = "--experts", split = ",", paramLabel = "IDS",
            description = "Expert ids the pod holds, as an expert pod of the plan would (default: all).")
    int[] experts;

    @Option(names = "--rows", split = ",", defaultValue = "16,32,64,128,256",
            description = "Rows per round (default: ${DEFAULT-VALUE}).")
    int[] rows;

    @Option(names = "--threads", defaultValue = "1",
            description = "Compute threads (default: ${DEFAULT-VALUE}: a pinned expert pod has one core).")
    int threads;

    @Option(names = "--seconds", defaultValue = "2", description = "Time spent per row count (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--device", defaultValue = "${env:SHUTTLE_DEVICE:-cpu}",
            description = "Compute device: cpu, cuda or cuda:N (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--json", description = "One JSON object per row count, then one with the fit.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (rows.length == 0 || Arrays.stream(rows).anyMatch(r -> r < 1)) {
            throw new IllegalArgumentException("--rows must be row counts ≥ 1, e.g. --rows 16,32,64");
        }
        if (threads < 1 || !(seconds > 0)) {
            throw new IllegalArgumentException("--threads must be ≥ 1 and --seconds > 0");
        }
        if (!Files.isDirectory(model)) {
            throw new IllegalArgumentException("--model " + model + " is not a folder; create one with "
                    + "'bin/shuttle model init --preset small --seed 1 --out " + model + "'");
        }
        PrintWriter out = spec.commandLine().getOut();
        ObjectMapper mapper = new ObjectMapper();
        int maxRows = Arrays.stream(rows).max().getAsInt();
        try (Checkpoint ckpt = Checkpoint.open(model); Backend backend = Backends.create(device, threads)) {
            ExpertWeights weights = experts == null ? ExpertWeights.loadAll(ckpt, backend)
                    : ExpertWeights.load(ckpt, backend, experts);
            try (ExpertRoundBench bench = new ExpertRoundBench(ckpt.config(), weights, backend, maxRows)) {
                long weightBytes = weights.bytesPerExpert() * bench.heldExperts() * ckpt.config().numLayers();
                long llc = BenchEngineCommand.lastLevelCacheBytes();
                if (!json) {
                    out.printf("model %s, %d of %d experts per layer × %d layers (%.1f MB of expert weights, LLC %s),"
                                    + " top-%d, backend %s, %d thread(s)%n",
                            model, bench.heldExperts(), ckpt.config().numExperts(), ckpt.config().numLayers(),
                            weightBytes / 1e6, llc > 0 ? String.format("%.0f MB", llc / 1e6) : "unknown",
                            ckpt.config().topK(), backend.name(), threads);
                    out.println("rows  µs/round (layers in turn)  µs/round (one layer, hot)  µs/row  2 rounds of rows/2 ÷ 1 round");
                    out.flush();
                }
                // JIT warm-up over every row count, untimed.
                long warm = (long) (Math.min(1.0, seconds / 2) * 1e9);
                for (int r : rows) {
                    bench.measure(r, warm, 1, 1);
                }
                long budget = (long) (seconds * 1e9);
                List<ExpertRoundBench.Point> points = new ArrayList<>();
                Map<Integer, ExpertRoundBench.Point> byRows = new LinkedHashMap<>();
                for (int r : rows) {
                    ExpertRoundBench.Point p = bench.measure(r, budget, 3, 11);
                    points.add(p);
                    byRows.put(r, p);
                }
                for (ExpertRoundBench.Point p : points) {
                    // Two rounds of half the rows against one of all: what the expert side pays at m = 2.
                    ExpertRoundBench.Point half = p.rows() % 2 == 0 ? byRows.get(p.rows() / 2) : null;
                    Double halving = half == null ? null : 2 * half.layersInTurnMicros() / p.layersInTurnMicros();
                    if (json) {
                        Map<String, Object> row = new LinkedHashMap<>();
                        row.put("rows", p.rows());
                        row.put("round_us", round1(p.layersInTurnMicros()));
                        row.put("hot_round_us", round1(p.oneLayerMicros()));
                        row.put("us_per_row", round3(p.layersInTurnMicros() / p.rows()));
                        row.put("two_half_rounds_ratio", halving == null ? null : round3(halving));
                        out.println(mapper.writeValueAsString(row));
                    } else {
                        out.printf("%4d  %27.1f  %25.1f  %6.2f  %s%n", p.rows(), p.layersInTurnMicros(), p.oneLayerMicros(),
                                p.layersInTurnMicros() / p.rows(), halving == null ? "" : String.format("%.2f", halving));
                    }
                }
                if (points.stream().mapToInt(ExpertRoundBench.Point::rows).distinct().count() >= 2) {
                    ExpertRoundBench.Fit fit = ExpertRoundBench.fit(points);
                    if (json) {
                        Map<String, Object> row = new LinkedHashMap<>();
                        row.put("fixed_us_per_round", round1(fit.fixedMicros()));
                        row.put("us_per_row", round3(fit.perRowMicros()));
                        out.println(mapper.writeValueAsString(row));
                    } else {
                        out.printf("fit (layers in turn): %.0f µs per round + %.2f µs per row; at m micro-batches a batch of B"
                                + " costs the expert side m·%.0f + %.2f·B µs per layer%n", fit.fixedMicros(),
                                fit.perRowMicros(), fit.fixedMicros(), fit.perRowMicros());
                    }
                }
            }
        }
        out.flush();
        return 0;
    }

    private static double round1(double v) {
        return Math.round(v * 10) / 10.0;
    }

    private static double round3(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}
