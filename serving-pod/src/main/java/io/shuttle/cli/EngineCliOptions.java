package io.shuttle.cli;

import io.shuttle.engine.EngineOptions;
import io.shuttle.kernels.Backend;
import io.shuttle.model.Checkpoint;
import io.shuttle.model.ConsoleProgress;
import io.shuttle.model.ModelConfig;
import io.shuttle.model.ProgressListener;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;

/** Options shared by the commands that load a model into an engine. */
final class EngineCliOptions {
    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "Hugging Face checkpoint folder (config.json, *.safetensors, tokenizer.json).")
    Path model;

    @Option(names = "--threads", paramLabel = "N",
            description = "Compute threads (default: all cores).")
    Integer threads;

    @Option(names = "--max-model-len", paramLabel = "N",
            description = "Longest sequence, prompt plus generated (default: min(max_position_embeddings, 4096)).")
    Integer maxModelLen;

    @Option(names = "--kv-blocks", paramLabel = "N", defaultValue = "4096",
            description = "KV cache blocks of 16 tokens (default: ${DEFAULT-VALUE}).")
    int kvBlocks;

    /** Weights above this size show a progress line while they are paged in. */
    private static final long PROGRESS_THRESHOLD = 64L << 20;

    /**
     * Pages in every mapped weight once (after the engine mapped them), so the first request does
     * not pay the page faults; large checkpoints show progress on stderr.
     */
    static void warm(Checkpoint ckpt) {
        ProgressListener progress = ckpt.mappedBytes() >= PROGRESS_THRESHOLD
                ? ConsoleProgress.stderr("loading weights") : ProgressListener.none();
        ckpt.prefault(progress);
    }

    Path modelDir() {
        if (!Files.isDirectory(model)) {
            throw new IllegalArgumentException("--model " + model + " is not a folder; create one with "
                    + "'bin/shuttle model init --preset tiny --seed 1 --out " + model + "'");
        }
        return model;
    }

    @Option(names = "--device", defaultValue = "${env:SHUTTLE_DEVICE:-cpu}",
            description = "Compute device: cpu, cuda or cuda:N (env SHUTTLE_DEVICE; default: ${DEFAULT-VALUE}).")
    String device;

    Backend backend() {
        int n = threads == null ? Runtime.getRuntime().availableProcessors() : threads;
        if (n < 1) {
            throw new IllegalArgumentException("--threads must be ≥ 1, got " + n);
        }
        return io.shuttle.kernels.Backends.create(device, n);
    }

    EngineOptions engineOptions(ModelConfig config, int maxBatchTokens, int maxSeqs) {
        int len = maxModelLen == null ? Math.min(config.maxPositionEmbeddings(), 4096) : maxModelLen;
        if (len > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("--max-model-len " + len + " exceeds the model's max_position_embeddings "
                    + config.maxPositionEmbeddings());
        }
        int logitRows = Math.min(maxSeqs, maxBatchTokens);
        return new EngineOptions(maxBatchTokens, logitRows, kvBlocks, 16, len);
    }
}
