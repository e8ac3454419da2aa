package io.shuttle.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code bench pipeline} end to end on the tiny model: it starts a cluster per micro-batch count
 * (one after the other, or all at once with {@code --side-by-side}),
 * and its figures are only printed when the measured window was exactly steps × layers × m
 * attention rounds, i.e. the whole batch decoded as one, and every figure is positive (the
 * command fails otherwise: its figures are differences of two requests, which noise can invert).
 */
class BenchPipelineE2ETest {

    @Test
    void measuresEveryMicroBatchCountOverTheWholeBatch(@TempDir Path dir) throws Exception {
        Bench b = bench(dir, List.of("--no-side-by-side", "--repeat", "1"));
        List<JsonNode> rows = b.rows();
        String output = b.output();
        assertEquals(2, rows.size(), "one JSON object per micro-batch count:\n" + output);
        for (int i = 0; i < 2; i++) {
            assertRow(rows.get(i), i + 1, output);
            assertFalse(rows.get(i).get("side_by_side").asBoolean(), output);
        }
        assertEquals(1.0, rows.get(0).get("ratio_to_first").asDouble(), 1e-9);
        assertNoBubbleRatio(rows, output, true);
    }

    /** Both clusters at once, measured in turn: the medians of two windows each, and each window's own ratio. */
    @Test
    void sideBySideMeasuresLiveClustersInTurn(@TempDir Path dir) throws Exception {
        Bench b = bench(dir, List.of("--side-by-side", "--repeat", "2"));
        List<JsonNode> rows = b.rows();
        String output = b.output();
        assertEquals(2, rows.size(), "one median object per micro-batch count:\n" + output);
        for (int i = 0; i < 2; i++) {
            assertRow(rows.get(i), i + 1, output);
            assertTrue(rows.get(i).get("side_by_side").asBoolean(), output);
            assertEquals(2, rows.get(i).get("runs_tokens_per_s").size(), output);
        }
        assertEquals(1.0, rows.get(0).get("ratio_to_first").asDouble(), 1e-9);
        assertNoBubbleRatio(rows, output, false);
    }

    /**
     * m = 1 has none; m = 2's is its ratio with the less idle pod's idle time taken out (a median
     * row's figures may come from different runs: there it is only at least the ratio).
     */
    private static void assertNoBubbleRatio(List<JsonNode> rows, String output, boolean oneRun) {
        assertTrue(rows.get(0).get("no_bubble_ratio") == null || rows.get(0).get("no_bubble_ratio").isNull(), output);
        JsonNode two = rows.get(1);
        double ratio = two.get("ratio_to_first").asDouble();
        double bound = two.get("no_bubble_ratio").asDouble();
        if (oneRun) {
            double idle = Math.min(two.get("idle_attention").asDouble(), two.get("idle_experts").asDouble());
            assertEquals(ratio / (1 - idle), bound, 0.02, output);
        } else {
            assertTrue(bound >= ratio - 1e-9, output);
        }
    }

    private static void assertRow(JsonNode r, int m, String output) {
        assertEquals(m, r.get("micro_batches").asInt(), output);
        assertTrue(r.get("tokens_per_s").asDouble() > 0, output);
        assertTrue(r.get("t_a_us").asDouble() > 0 && r.get("t_e_us").asDouble() > 0, output);
        assertTrue(r.get("t_c_us").asDouble() >= 0, output);
        double bubbles = r.get("bubble_fraction").asDouble();
        assertTrue(bubbles >= 0 && bubbles <= 1, "bubble fraction " + bubbles);
        double layer0 = r.get("idle_experts_layer0").asDouble();
        assertTrue(layer0 >= 0 && layer0 <= r.get("idle_experts").asDouble(),
                "the experts' idle share at layer 0 is part of their idle share:\n" + output);
        assertTrue(r.get("warmup_settled").isBoolean(), "each row says whether its warm-up settled:\n" + output);
        // The noise-free model of the same round times: a throughput, two idle shares, a ratio.
        assertTrue(r.get("model_tokens_per_s").asDouble() > 0, output);
        for (String idle : new String[] {"model_idle_attention", "model_idle_experts"}) {
            double v = r.get(idle).asDouble(-1);
            assertTrue(v >= 0 && v <= 1, idle + " " + v + ":\n" + output);
        }
        assertTrue(r.get("model_ratio").asDouble() > 0, output);
        if (m == 1) {
            assertEquals(1.0, r.get("model_ratio").asDouble(), 1e-9, output);
        }
    }

    private record Bench(List<JsonNode> rows, String output) {
    }

    private static Bench bench(Path dir, List<String> extra) throws Exception {
        Path model = Fixtures.tinyModel(dir.resolve("tiny"));
        Path jar = Path.of(System.getProperty("shuttle.pod.jar", ""));
        List<String> cmd = new ArrayList<>(List.of(LocalLauncher.javaBin(), "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-jar", jar.toString(), "bench", "pipeline",
                "--model", model.toString(), "--micro-batches", "1,2", "--batch", "12", "--steps", "96",
                "--prompt-tokens", "5", "--warmup-seconds", "8", "--no-pin", "--json"));
        cmd.addAll(extra);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putIfAbsent("UCX_LOG_LEVEL", "error");
        Process p = pb.start();
        // Read while it runs, so a full pipe can never stall it.
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (java.io.IOException e) {
                return "(output unreadable: " + e + ")";
            }
        });
        boolean exited;
        try {
            exited = p.waitFor(4, TimeUnit.MINUTES);
        } finally {
            if (p.isAlive()) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
        }
        String output = out.get(30, TimeUnit.SECONDS);
        assertTrue(exited, "bench pipeline did not finish within 4 minutes:\n" + output);
        assertEquals(0, p.exitValue(), "bench pipeline failed:\n" + output);
        List<JsonNode> rows = new ArrayList<>();
        for (String line : output.split("\n")) {
            if (line.startsWith("{")) {
                rows.add(Fixtures.JSON.readTree(line));
            }
        }
        return new Bench(rows, output);
    }
}
