package io.shuttle.model.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.shuttle.kernels.DType;
import io.shuttle.model.ProgressListener;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardedWriterTest {

    @TempDir
    Path dir;

    private static TensorSpec spec(String name, long elements) {
        return new TensorSpec(name, DType.F32, new long[] {elements});
    }

    /** huggingface_hub's rule: fill in order, a new shard when the next tensor would overflow; oversize alone. */
    @Test
    void splitsLikeHuggingFace() {
        List<TensorSpec> specs = List.of(spec("a", 10), spec("b", 10), spec("big", 100), spec("c", 10), spec("d", 5));
        List<List<String>> shards = ShardedWriter.split(specs, 80).stream()
                .map(s -> s.stream().map(TensorSpec::name).toList()).toList();
        // a+b = 80 bytes fill a shard; "big" (400 B) is put alone at once; c (40) then d (20) share the last.
        assertEquals(List.of(List.of("big"), List.of("a", "b"), List.of("c", "d")), shards);
    }

    @Test
    void writesShardsIndexAndReportsProgress() throws IOException {
        List<TensorSpec> specs = List.of(spec("x.0", 16), spec("x.1", 16), spec("x.2", 16));
        List<long[]> calls = new ArrayList<>();
        ProgressListener progress = (done, total) -> calls.add(new long[] {done, total});
        List<Path> files = ShardedWriter.write(dir, specs, (s, out) -> {
            for (long i = 0; i < s.numel(); i++) {
                out.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, s.name().hashCode() + i);
            }
        }, 128, progress);
        assertEquals(List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                "model.safetensors.index.json"), files.stream().map(p -> p.getFileName().toString()).toList());
        String expectedIndex = """
                {
                  "metadata": {
                    "total_size": 192
                  },
                  "weight_map": {
                    "x.0": "model-00001-of-00002.safetensors",
                    "x.1": "model-00001-of-00002.safetensors",
                    "x.2": "model-00002-of-00002.safetensors"
                  }
                }
                """;
        assertEquals(expectedIndex, Files.readString(dir.resolve(ShardIndex.FILE_NAME)));
        ShardIndex index = ShardIndex.read(dir.resolve(ShardIndex.FILE_NAME));
        assertEquals(192, index.totalSize());
        long[] last = calls.getLast();
        assertEquals(192, last[0]);
        assertEquals(192, last[1]);
        for (int i = 1; i < calls.size(); i++) {
            assertTrue(calls.get(i)[0] >= calls.get(i - 1)[0], "progress must not go backwards");
        }
    }

    @Test
    void oneShardIsASingleModelFileWithoutIndex() {
        List<Path> files = ShardedWriter.write(dir, List.of(spec("w", 4)), (s, out) -> { }, ShardedWriter.UNLIMITED,
                ProgressListener.none());
        assertEquals(List.of(dir.resolve("model.safetensors")), files);
        assertTrue(Files.notExists(dir.resolve(ShardIndex.FILE_NAME)));
    }
}
