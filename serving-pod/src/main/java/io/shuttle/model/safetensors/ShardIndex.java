package io.shuttle.model.safetensors;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.shuttle.model.CheckpointException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code model.safetensors.index.json} of a sharded checkpoint: {@code metadata.total_size} (sum
 * of tensor bytes) and {@code weight_map} (tensor name → shard file name in the same folder).
 *
 * @param totalSize total tensor bytes as declared (-1 when the file does not say)
 * @param weightMap tensor name → shard file name
 */
public record ShardIndex(long totalSize, Map<String, String> weightMap) {

    public static final String FILE_NAME = "model.safetensors.index.json";

    public ShardIndex {
        weightMap = Map.copyOf(weightMap);
    }

    /** Reads and validates an index file; shard names must be plain file names in the same folder. */
    public static ShardIndex read(Path file) {
        JsonNode root;
        try {
            root = JsonMapper.builder().build().readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            throw new CheckpointException(file + ": file not found", e);
        } catch (JacksonException e) {
            throw new CheckpointException(file + ": not valid JSON (" + e.getOriginalMessage()
                    + "); download the checkpoint again", e);
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new CheckpointException(file + ": has no 'weight_map' object naming the shard of each tensor "
                    + "(the index is corrupt; download it again)");
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            String shard = e.getValue().isTextual() ? e.getValue().textValue() : "";
            if (shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.equals("..") || shard.equals(".")) {
                throw new CheckpointException(file + ": weight_map entry for tensor '" + e.getKey() + "' is "
                        + e.getValue() + ", not a file name in the checkpoint folder (the index is corrupt)");
            }
            weightMap.put(e.getKey(), shard);
        }
        JsonNode total = root.path("metadata").path("total_size");
        return new ShardIndex(total.canConvertToLong() ? total.longValue() : -1, weightMap);
    }

    /** Writes the index as Hugging Face does ({@code json.dumps(index, indent=2, sort_keys=True) + "\n"}). */
    public void write(Path file) {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        root.putObject("metadata").put("total_size", totalSize);
        ObjectNode map = root.putObject("weight_map");
        new TreeMap<>(weightMap).forEach(map::put);
        try {
            Files.writeString(file, JsonText.pythonPretty(root) + "\n", StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new CheckpointException(file + ": cannot write (" + e.getMessage() + ")", e);
        }
    }
}
