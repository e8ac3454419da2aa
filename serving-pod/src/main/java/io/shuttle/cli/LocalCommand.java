package io.shuttle.cli;

import io.shuttle.engine.Engine;
import io.shuttle.engine.GenerationResult;
import io.shuttle.engine.SamplingParams;
import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.model.Checkpoint;
import io.shuttle.model.init.CheckpointGenerator;
import io.shuttle.model.init.Preset;
import io.shuttle.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code shuttle local}: the newcomer's first command. Without {@code --model} it generates and
 * caches the {@code tiny} preset, then generates text for a prompt.
 *
 * <p>Today it runs the monolithic engine in this one process; the disaggregated cluster on
 * loopback (attention and expert processes) replaces that body when the serving runtime lands.
 */
@Command(name = "local", mixinStandardHelpOptions = true,
        description = "Run Shuttle locally on a generated tiny model (cached) or --model DIR, and generate for a prompt. "
                + "Currently single-process (monolithic engine); the disaggregated local cluster comes with the serving runtime.")
final class LocalCommand implements Callable<Integer> {

    static final long TINY_SEED = 1;

    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR", description = "Checkpoint folder (default: the cached tiny preset).")
    Path model;

    @Option(names = "--prompt", defaultValue = "The quick brown fox", description = "Prompt (default: ${DEFAULT-VALUE}).")
    String prompt;

    @Option(names = "--max-tokens", defaultValue = "24", description = "Tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        Path dir = model != null ? model : cachedTinyModel(out);
        try (Checkpoint ckpt = Checkpoint.open(dir);
             Tokenizer tokenizer = Tokenizer.load(dir);
             Backend backend = new io.shuttle.kernels.cpu.CpuBackend()) {
            var cfg = ckpt.config();
            var options = new io.shuttle.engine.EngineOptions(512, 1, 1024, 16, Math.min(cfg.maxPositionEmbeddings(), 4096));
            try (Engine engine = new Engine(ckpt, backend, options)) {
                EngineCliOptions.warm(ckpt);
                out.printf("model %s (%d layers, %d experts, top-%d) on %s%n", dir, cfg.numLayers(), cfg.numExperts(),
                        cfg.topK(), backend.name());
                out.println("prompt: " + prompt);
                long t0 = System.nanoTime();
                GenerationResult r = engine.generate(List.of(tokenizer.encode(prompt, true)),
                        SamplingParams.greedy(maxTokens, false), false).get(0);
                double s = (System.nanoTime() - t0) / 1e9;
                out.println("output: " + tokenizer.decode(r.generatedIds(), true));
                out.printf("(%d tokens in %.2f s, finish_reason=%s; random weights, so the text is gibberish by design)%n",
                        r.generatedIds().length, s, r.finishReason().openAiName());
            }
        }
        out.flush();
        return 0;
    }

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
