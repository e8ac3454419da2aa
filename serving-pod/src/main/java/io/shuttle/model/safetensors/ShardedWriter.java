package io.shuttle.model.safetensors;

import io.shuttle.model.ProgressListener;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes a model's tensors the way {@code save_pretrained(max_shard_size=...)} does: split in
 * state-dict order into shards of at most {@code maxShardBytes} tensor bytes (a tensor larger than
 * that gets a shard of its own), named {@code model-00001-of-0000N.safetensors}, plus
 * {@code model.safetensors.index.json}. When everything fits in one shard, the result is a single
 * {@code model.safetensors} and no index, as with Hugging Face.
 */
public final class ShardedWriter {

    public static final String SINGLE_FILE = "model.safetensors";

    /** No limit: always one {@code model.safetensors}. */
    public static final long UNLIMITED = Long.MAX_VALUE;

    private ShardedWriter() {
    }

    /**
     * Splits tensors (in state-dict order) into shards as huggingface_hub's
     * {@code split_state_dict_into_shards_factory} does.
     */
    public static List<List<TensorSpec>> split(List<TensorSpec> inOrder, long maxShardBytes) {
        if (maxShardBytes <= 0) {
            throw new IllegalArgumentException("max shard size must be positive, got " + maxShardBytes);
        }
        List<List<TensorSpec>> shards = new ArrayList<>();
        List<TensorSpec> current = new ArrayList<>();
        long currentBytes = 0;
        for (TensorSpec t : inOrder) {
            long size = t.byteSize();
            if (size > maxShardBytes) {
                shards.add(List.of(t));
                continue;
            }
            if (currentBytes + size > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(t);
            currentBytes += size;
        }
        if (!current.isEmpty()) {
            shards.add(current);
        }
        return shards;
    }

    /** {@code model-00002-of-00005.safetensors} for index 1 of 5. */
    public static String shardName(int index, int count) {
        return String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", index + 1, count);
    }

    /**
     * Writes all tensors into {@code dir}, streaming each from {@code source}.
     *
     * @param progress receives tensor bytes written so far out of all tensor bytes
     * @return the files written (shards, then the index if any)
     */
    public static List<Path> write(Path dir, List<TensorSpec> inOrder, TensorSource source, long maxShardBytes,
                                   ProgressListener progress) {
        long total = inOrder.stream().mapToLong(TensorSpec::byteSize).sum();
        if (inOrder.isEmpty()) {
            SafetensorsWriter.write(dir.resolve(SINGLE_FILE), inOrder, SafetensorsWriter.PT_METADATA, source, progress);
            return List.of(dir.resolve(SINGLE_FILE));
        }
        List<List<TensorSpec>> shards = split(inOrder, maxShardBytes);
        List<Path> written = new ArrayList<>();
        Map<String, String> weightMap = new LinkedHashMap<>();
        long base = 0;
        for (int i = 0; i < shards.size(); i++) {
            String name = shards.size() == 1 ? SINGLE_FILE : shardName(i, shards.size());
            long offset = base;
            ProgressListener overall = (done, ignored) -> progress.progress(offset + done, total);
            SafetensorsWriter.write(dir.resolve(name), shards.get(i), SafetensorsWriter.PT_METADATA, source, overall);
            for (TensorSpec t : shards.get(i)) {
                weightMap.put(t.name(), name);
                base += t.byteSize();
            }
            written.add(dir.resolve(name));
        }
        if (shards.size() > 1) {
            Path index = dir.resolve(ShardIndex.FILE_NAME);
            new ShardIndex(total, weightMap).write(index);
            written.add(index);
        }
        return written;
    }
}
