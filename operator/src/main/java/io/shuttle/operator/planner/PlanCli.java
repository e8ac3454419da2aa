package io.shuttle.operator.planner;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code shuttle plan}: the deployment planner on the command line.
 *
 * <p>Exit codes: 0 a plan was found; 2 bad input (missing or non-MoE config, unknown GPU type,
 * bad option) or no plan meets the request, with a one-line {@code error:} message; 1 a bug.
 */
@Command(name = "plan", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Finds the attention/expert deployment with the most decode tokens/s per unit of cost "
                + "that meets a time-between-tokens SLO (MegaScale-Infer's Algorithm 1, docs/PLANNER.md)."})
public final class PlanCli implements Callable<Integer> {

    static final int EXIT_BAD_INPUT = 2;

    @Option(names = "--model", required = true, paramLabel = "config.json|DIR",
            description = "Hugging Face config.json of a MoE model, or the model folder holding it")
    private Path model;

    @Option(names = "--attention-gpu", paramLabel = "TYPE",
            description = "Pin the attention GPU type (default: search the catalog)")
    private String attentionGpu;

    @Option(names = "--expert-gpu", paramLabel = "TYPE",
            description = "Pin the expert GPU type (default: search the catalog)")
    private String expertGpu;

    @Option(names = "--slo-tbt-ms", required = true, paramLabel = "MS",
            description = "Time-between-tokens target in milliseconds (the paper uses 150)")
    private double sloTbtMs;

    @Option(names = "--avg-seq-len", paramLabel = "TOKENS", defaultValue = "650",
            description = "Average context length during decode (default: ${DEFAULT-VALUE}, the paper's trace)")
    private double avgSeqLen;

    @Option(names = "--micro-batches", paramLabel = "M", description = "Pin m (default: search 2, 3, 4)")
    private Integer microBatches;

    @Option(names = "--price", paramLabel = "TYPE=PRICE",
            description = "Override a GPU-hour price (repeatable; all prices in one unit)")
    private Map<String, Double> prices = Map.of();

    @Option(names = "--json", description = "Print the best plan as one JSON object")
    private boolean json;

    @Option(names = "--top", paramLabel = "N", defaultValue = "5",
            description = "Plans in the table (default: ${DEFAULT-VALUE})")
    private int top;

    private PrintStream out = System.out;
    private PrintStream err = System.err;

    public static void main(String[] args) {
        System.exit(run(System.out, System.err, args));
    }

    /** Runs the command with the given streams; returns the exit code. */
    static int run(PrintStream out, PrintStream err, String... args) {
        PlanCli cli = new PlanCli();
        cli.out = out;
        cli.err = err;
        CommandLine cmd = new CommandLine(cli);
        cmd.setOut(new PrintWriter(out, true, StandardCharsets.UTF_8));
        cmd.setErr(new PrintWriter(err, true, StandardCharsets.UTF_8));
        cmd.setParameterExceptionHandler((e, a) -> {
            err.println("error: " + oneLine(e.getMessage()) + " (see 'shuttle plan --help')");
            return EXIT_BAD_INPUT;
        });
        return cmd.execute(args);
    }

    @Override
    public Integer call() throws JsonProcessingException {
        if (top < 1) {
            return fail("--top must be at least 1, got " + top);
        }
        List<PlanEstimate> ranked;
        PlanRequest request;
        try {
            GpuCatalog catalog = GpuCatalog.builtin().withPrices(prices);
            request = new PlanRequest(ModelShape.fromConfigJson(model), Optional.ofNullable(attentionGpu),
                    Optional.ofNullable(expertGpu), sloTbtMs, avgSeqLen, catalog,
                    microBatches == null ? OptionalInt.empty() : OptionalInt.of(microBatches));
            ranked = new Planner().search(request);
        } catch (IllegalArgumentException | PlanInfeasibleException e) {
            return fail(e.getMessage());
        }
        if (json) {
            out.println(JsonMapper.builder().build().writeValueAsString(PlanReport.json(request, ranked.getFirst())));
        } else {
            out.print(PlanReport.table(request, ranked, top));
        }
        out.flush();
        return 0;
    }

    private int fail(String message) {
        err.println("error: " + oneLine(message));
        return EXIT_BAD_INPUT;
    }

    private static String oneLine(String s) {
        return s == null ? "(no message)" : s.replaceAll("\\s*\\R\\s*", " ").strip();
    }
}
