package io.shuttle.model;

import io.shuttle.model.safetensors.HeaderEntry;
import io.shuttle.model.safetensors.SafetensorsFile;
import io.shuttle.model.safetensors.ShardIndex;
import io.shuttle.model.safetensors.ShardedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The safetensors files of a checkpoint folder, opened (headers only) and indexed by tensor:
 * {@code model.safetensors}, or the shards listed in {@code model.safetensors.index.json}.
 *
 * @param files   every opened file
 * @param tensors tensor name → where it lives, sorted by name
 * @param searched a short description of where tensors were looked up, for "not found" messages
 */
record CheckpointFiles(List<SafetensorsFile> files, Map<String, Located> tensors, String searched) {

    /** A tensor's file and header entry. */
    record Located(SafetensorsFile file, HeaderEntry entry) {
    }

    static CheckpointFiles open(Path dir) {
        Path single = dir.resolve(ShardedWriter.SINGLE_FILE);
        Path index = dir.resolve(ShardIndex.FILE_NAME);
        if (Files.isRegularFile(single)) {
            return openSingle(single);
        }
        if (Files.isRegularFile(index)) {
            return openSharded(dir, index);
        }
        throw new CheckpointException(dir + " has neither " + ShardedWriter.SINGLE_FILE + " nor " + ShardIndex.FILE_NAME
                + " (found: " + safetensorsFilesIn(dir) + "); download the model's safetensors weights "
                + "or create a checkpoint with 'shuttle model init'");
    }

    void closeAll() {
        files.forEach(SafetensorsFile::close);
    }

    private static CheckpointFiles openSingle(Path file) {
        SafetensorsFile f = SafetensorsFile.open(file);
        Map<String, Located> tensors = new TreeMap<>();
        for (HeaderEntry e : f.entries()) {
            tensors.put(e.name(), new Located(f, e));
        }
        return new CheckpointFiles(List.of(f), tensors, file.getFileName().toString());
    }

    private static CheckpointFiles openSharded(Path dir, Path indexFile) {
        ShardIndex index = ShardIndex.read(indexFile);
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        try {
            for (String shard : new TreeSet<>(index.weightMap().values())) {
                shards.put(shard, SafetensorsFile.open(dir.resolve(shard)));
            }
            Map<String, Located> tensors = new TreeMap<>();
            for (Map.Entry<String, String> e : index.weightMap().entrySet()) {
                SafetensorsFile f = shards.get(e.getValue());
                HeaderEntry entry = f.entry(e.getKey()).orElseThrow(() -> new CheckpointException(f.path()
                        + ": tensor '" + e.getKey() + "' is listed in " + ShardIndex.FILE_NAME
                        + " but is not in this file (the download is incomplete or the index is stale; "
                        + "download the checkpoint again)"));
                tensors.put(e.getKey(), new Located(f, entry));
            }
            String searched = ShardIndex.FILE_NAME + " → " + String.join(", ", shards.keySet());
            return new CheckpointFiles(List.copyOf(shards.values()), tensors, searched);
        } catch (RuntimeException e) {
            shards.values().forEach(SafetensorsFile::close);
            throw e;
        }
    }

    private static String safetensorsFilesIn(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            List<String> names = new ArrayList<>(s.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".safetensors")).sorted().toList());
            return names.isEmpty() ? "no .safetensors files" : String.join(", ", names);
        } catch (IOException e) {
            return "folder not listable: " + e.getMessage();
        }
    }
}
