package io.shuttle.cli;

import io.shuttle.kernels.DType;
import io.shuttle.model.Checkpoint;
import io.shuttle.model.ConsoleProgress;
import io.shuttle.model.MixtralConfigWriter;
import io.shuttle.model.ModelConfig;
import io.shuttle.model.ProgressListener;
import io.shuttle.model.init.CheckpointGenerator;
import io.shuttle.model.init.GenerationSummary;
import io.shuttle.model.init.Preset;
import io.shuttle.model.safetensors.ShardedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code shuttle model init|info}: create a deterministic random-weight checkpoint, or check and
 * summarise an existing one.
 */
@Command(name = "model", mixinStandardHelpOptions = true,
        description = "Create and inspect Mixtral checkpoints (Hugging Face folders).",
        subcommands = {ModelCommand.Init.class, ModelCommand.Info.class})
public final class ModelCommand implements Runnable {

    /** Only our own output file names are removed by --force; anything else in the folder stays. */
    private static final Pattern OWN_FILES = Pattern.compile(
            "config\\.json|model\\.safetensors|model-\\d{5}-of-\\d{5}\\.safetensors|model\\.safetensors\\.index\\.json"
                    + "|tokenizer\\.json|tokenizer_config\\.json|.*\\.safetensors\\.partial");

    /** Weights above this size get a progress line. */
    private static final long PROGRESS_THRESHOLD = 32L << 20;

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing sub-command: init or info");
    }

    @Command(name = "init", mixinStandardHelpOptions = true,
            description = "Write a deterministic random-weight Mixtral checkpoint: config.json, model.safetensors "
                    + "and the tokenizer files.")
    static final class Init implements Callable<Integer> {

        @Spec
        CommandSpec spec;

        @Option(names = "--preset", required = true, description = "Model shape: tiny or small.")
        String preset;

        @Option(names = "--seed", defaultValue = "0", description = "Random seed (default ${DEFAULT-VALUE}); "
                + "the same seed gives byte-identical files.")
        long seed;

        @Option(names = "--out", required = true, description = "Output folder (created if missing).")
        Path out;

        @Option(names = "--dtype", defaultValue = "bf16", description = "Weight type on disk: f32, bf16 or f16 "
                + "(default ${DEFAULT-VALUE}).")
        String dtype;

        @Option(names = "--max-shard-size", description = "Split weights into shards of at most this size "
                + "(e.g. 500MB, 2GB, 1GiB) with model.safetensors.index.json; default: one file.")
        String maxShardSize;

        @Option(names = "--force", description = "Overwrite the checkpoint files in a non-empty --out folder.")
        boolean force;

        @Override
        public Integer call() {
            Preset p = parse(() -> Preset.byName(preset));
            DType type = parse(() -> weightType(dtype));
            long shardBytes = maxShardSize == null ? ShardedWriter.UNLIMITED : parse(() -> byteSize(maxShardSize));
            prepareOutput();
            CheckpointGenerator generator = new CheckpointGenerator(p.config(), seed, type);
            long bytes = p.parameterCount() * type.byteSize();
            ProgressListener progress = bytes >= PROGRESS_THRESHOLD
                    ? new ConsoleProgress(spec.commandLine().getErr(), "writing weights", isTerminal())
                    : ProgressListener.none();
            long start = System.nanoTime();
            GenerationSummary model = generator.writeModel(out, shardBytes, progress);
            generator.writeTokenizer(out);
            long shards = model.files().stream().filter(f -> f.toString().endsWith(".safetensors")).count();
            spec.commandLine().getOut().printf(Locale.ROOT,
                    "wrote preset '%s' (seed %d, %s): %,d parameters, %s of weights in %d file%s -> %s (%.1f s)%n",
                    p.name(), seed, MixtralConfigWriter.torchDtype(type), model.parameters(),
                    ConsoleProgress.bytes(model.tensorBytes()), shards, shards == 1 ? "" : "s",
                    out.toAbsolutePath(), (System.nanoTime() - start) / 1e9);
            return 0;
        }

        private <T> T parse(java.util.function.Supplier<T> parser) {
            try {
                return parser.get();
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
        }

        private void prepareOutput() {
            if (Files.exists(out) && !Files.isDirectory(out)) {
                throw new IllegalArgumentException(out + " exists and is not a folder; choose another --out");
            }
            List<Path> existing = list(out);
            if (existing.isEmpty()) {
                return;
            }
            if (!force) {
                throw new IllegalArgumentException(out + " is not empty (" + existing.size() + " entries); "
                        + "choose an empty --out folder or pass --force to overwrite its checkpoint files");
            }
            for (Path p : existing) {
                if (OWN_FILES.matcher(p.getFileName().toString()).matches()) {
                    try {
                        Files.delete(p);
                    } catch (IOException e) {
                        throw new IllegalStateException("cannot delete " + p + " (" + e.getMessage() + ")", e);
                    }
                }
            }
        }

        private static List<Path> list(Path dir) {
            if (!Files.isDirectory(dir)) {
                return List.of();
            }
            try (Stream<Path> s = Files.list(dir)) {
                return new ArrayList<>(s.sorted().toList());
            } catch (IOException e) {
                throw new IllegalStateException("cannot list " + dir + " (" + e.getMessage() + ")", e);
            }
        }

        private static boolean isTerminal() {
            java.io.Console console = System.console();
            return console != null && console.isTerminal();
        }
    }

    @Command(name = "info", mixinStandardHelpOptions = true,
            description = "Open a checkpoint folder, validate it and print a summary.")
    static final class Info implements Callable<Integer> {

        @Spec
        CommandSpec spec;

        @Parameters(index = "0", paramLabel = "DIR", description = "Checkpoint folder.")
        Path dir;

        @Override
        public Integer call() {
            try (Checkpoint ckpt = Checkpoint.open(dir)) {
                ModelConfig c = ckpt.config();
                var out = spec.commandLine().getOut();
                out.printf(Locale.ROOT, "%s: mixtral, %d layers, hidden %d, %d experts top-%d, heads %d/%d x %d, "
                                + "FFN %d, vocab %d%n", dir, c.numLayers(), c.hiddenSize(), c.numExperts(), c.topK(),
                        c.numHeads(), c.numKvHeads(), c.headDim(), c.intermediateSize(), c.vocabSize());
                out.printf(Locale.ROOT, "%d tensors, %s in %d file(s)%n", ckpt.tensorNames().size(),
                        ConsoleProgress.bytes(ckpt.totalBytes()), ckpt.files().size());
            }
            return 0;
        }
    }

    /** "f32" | "bf16" | "f16" → DType. */
    static DType weightType(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "f32", "float32" -> DType.F32;
            case "bf16", "bfloat16" -> DType.BF16;
            case "f16", "float16" -> DType.F16;
            default -> throw new IllegalArgumentException("unknown --dtype '" + name + "'; use f32, bf16 or f16");
        };
    }

    /** "500MB" (10^6), "1GiB" (2^30), "4096" (bytes) → bytes, as Hugging Face's max_shard_size reads them. */
    static long byteSize(String text) {
        Matcher m = Pattern.compile("(\\d+)\\s*([KMGT]i?B|B)?", Pattern.CASE_INSENSITIVE).matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("cannot read size '" + text + "'; use e.g. 500MB, 2GB or 1GiB");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "B" : m.group(2).toUpperCase(Locale.ROOT);
        long scale = switch (unit) {
            case "KB" -> 1_000L;
            case "MB" -> 1_000_000L;
            case "GB" -> 1_000_000_000L;
            case "TB" -> 1_000_000_000_000L;
            case "KIB" -> 1L << 10;
            case "MIB" -> 1L << 20;
            case "GIB" -> 1L << 30;
            case "TIB" -> 1L << 40;
            default -> 1L;
        };
        if (n <= 0) {
            throw new IllegalArgumentException("size '" + text + "' must be positive");
        }
        return Math.multiplyExact(n, scale);
    }
}
