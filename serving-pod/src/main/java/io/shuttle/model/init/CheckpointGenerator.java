package io.shuttle.model.init;

import io.shuttle.kernels.DType;
import io.shuttle.model.CheckpointException;
import io.shuttle.model.MixtralConfigReader;
import io.shuttle.model.MixtralConfigWriter;
import io.shuttle.model.MixtralLayout;
import io.shuttle.model.ModelConfig;
import io.shuttle.model.ProgressListener;
import io.shuttle.model.safetensors.ShardedWriter;
import io.shuttle.model.safetensors.TensorSpec;
import io.shuttle.tokenizer.TokenizerFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes a complete, deterministic random-weight Mixtral checkpoint folder in exactly the Hugging
 * Face layout: {@code config.json}, {@code model.safetensors} (or shards and an index), and the
 * tokenizer files. Values come from {@link SeededWeights}: the same (config, seed, dtype) gives
 * byte-identical files.
 *
 * <pre>{@code
 * CheckpointGenerator.write(Preset.tiny().config(), 42, DType.F32, dir);                 // whole folder
 * new CheckpointGenerator(config, 42, DType.BF16).writeModel(dir, 1 << 20, progress);    // sharded, no tokenizer
 * }</pre>
 */
public final class CheckpointGenerator {

    private final ModelConfig config;
    private final long seed;
    private final DType dtype;
    private final Map<String, MixtralLayout.Expected> layout;

    /** @param dtype on-disk type of all weights: F32, BF16 or F16 */
    public CheckpointGenerator(ModelConfig config, long seed, DType dtype) {
        if (!dtype.isFloating()) {
            throw new IllegalArgumentException("weights must be F32, BF16 or F16, not " + dtype);
        }
        this.config = config;
        this.seed = seed;
        this.dtype = dtype;
        this.layout = MixtralLayout.byName(config);
    }

    /** Writes config.json, model.safetensors and the tokenizer files into {@code dir}. */
    public static GenerationSummary write(ModelConfig config, long seed, DType dtype, Path dir) {
        CheckpointGenerator generator = new CheckpointGenerator(config, seed, dtype);
        GenerationSummary model = generator.writeModel(dir, ShardedWriter.UNLIMITED, ProgressListener.none());
        List<Path> files = new ArrayList<>(model.files());
        files.addAll(generator.writeTokenizer(dir));
        return new GenerationSummary(dir, model.parameters(), model.tensorBytes(), files);
    }

    /**
     * Writes config.json and the weights into {@code dir} (created if needed), overwriting files of
     * the same names. With {@code maxShardBytes} below the total, the weights are sharded as
     * {@code save_pretrained(max_shard_size=...)} does; {@link ShardedWriter#UNLIMITED} gives one file.
     */
    public GenerationSummary writeModel(Path dir, long maxShardBytes, ProgressListener progress) {
        createDirectories(dir);
        List<TensorSpec> specs = tensorSpecs();
        List<Path> files = new ArrayList<>();
        MixtralConfigWriter.write(dir, config, dtype);
        files.add(dir.resolve(MixtralConfigReader.FILE_NAME));
        files.addAll(ShardedWriter.write(dir, specs, (spec, out) ->
                SeededWeights.fill(layout.get(spec.name()), seed, dtype, out), maxShardBytes, progress));
        long bytes = specs.stream().mapToLong(TensorSpec::byteSize).sum();
        return new GenerationSummary(dir, MixtralLayout.parameterCount(config), bytes, files);
    }

    /** Writes tokenizer.json and tokenizer_config.json for this config's vocabulary size. */
    public List<Path> writeTokenizer(Path dir) {
        try {
            TokenizerFiles.writePreset(dir, config.vocabSize(), config.maxPositionEmbeddings());
        } catch (IOException | IllegalArgumentException e) {
            throw new CheckpointException(dir + ": cannot write the tokenizer files for vocab_size "
                    + config.vocabSize() + " (" + e.getMessage() + ")", e);
        }
        return List.of(dir.resolve("tokenizer.json"), dir.resolve("tokenizer_config.json"));
    }

    /** The tensors this generator writes, in state-dict order. */
    public List<TensorSpec> tensorSpecs() {
        return layout.values().stream().map(e -> new TensorSpec(e.name(), dtype, e.shape())).toList();
    }

    /** The f32 values drawn for a tensor (before rounding to the on-disk dtype); for tests. */
    public float[] values(String tensorName) {
        MixtralLayout.Expected e = layout.get(tensorName);
        if (e == null) {
            throw new IllegalArgumentException("no tensor '" + tensorName + "' in this model");
        }
        return SeededWeights.values(e, seed);
    }

    private static void createDirectories(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new CheckpointException(dir + ": cannot create the checkpoint folder (" + e.getMessage() + ")", e);
        }
    }
}
