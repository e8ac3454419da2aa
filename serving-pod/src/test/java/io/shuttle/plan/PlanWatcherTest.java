package io.shuttle.plan;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A running pod's plan file: new valid versions are handed over once, invalid ones are refused and the old plan kept. */
class PlanWatcherTest {

    @Test
    void reportsEachNewValidVersionOnceAndRefusesInvalidOnes(@TempDir Path dir) throws Exception {
        // Kubernetes' layout for a mounted ConfigMap: the file is a symlink into a folder that is swapped.
        Path v1 = Files.createDirectories(dir.resolve("..v1"));
        Files.writeString(v1.resolve("plan.json"), PlanReaderTest.VALID);
        Path data = dir.resolve("..data");
        Files.createSymbolicLink(data, v1.getFileName());
        Path file = dir.resolve("plan.json");
        Files.createSymbolicLink(file, Path.of("..data/plan.json"));

        List<ServingPlan> seen = new ArrayList<>();
        PlanWatcher watcher = new PlanWatcher(file, 4, Duration.ofHours(1), seen::add);
        assertFalse(watcher.poll(), "the version the pod started with is not reported");

        String threePods = PlanReaderTest.VALID.replace("\"replicas\": 2, \"addressPattern\"", "\"replicas\": 3, \"addressPattern\"")
                .replace("[[0, 1, 2], [2, 3]]", "[[0, 1], [2], [3]]");
        swap(dir, "..v2", threePods);
        assertTrue(watcher.poll());
        assertEquals(1, seen.size());
        assertEquals(3, seen.get(0).experts().replicas());
        assertEquals(List.of(List.of(0, 1), List.of(2), List.of(3)), seen.get(0).experts().placement());
        assertFalse(watcher.poll(), "unchanged content is not reported again");

        swap(dir, "..v3", threePods.replace("[[0, 1], [2], [3]]", "[[0, 1], [2], [9]]")); // expert 9 of 4
        assertFalse(watcher.poll(), "an invalid version is refused");
        assertEquals(1, watcher.rejected());
        assertEquals(1, seen.size(), "and the pod keeps its plan");

        swap(dir, "..v4", PlanReaderTest.VALID);
        assertTrue(watcher.poll(), "a later valid version is taken");
        assertEquals(2, seen.get(1).experts().replicas());
        assertEquals(2, watcher.reloads());
        watcher.close();
    }

    /** Writes a new version folder and swaps {@code ..data} to it atomically, as the kubelet does. */
    private static void swap(Path dir, String version, String content) throws Exception {
        Path v = Files.createDirectories(dir.resolve(version));
        Files.writeString(v.resolve("plan.json"), content);
        Path tmp = dir.resolve("..data_tmp");
        Files.createSymbolicLink(tmp, v.getFileName());
        Files.move(tmp, dir.resolve("..data"), java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
}
