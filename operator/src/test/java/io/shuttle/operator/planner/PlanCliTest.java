package io.shuttle.operator.planner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlanCliTest {

    static final String MODEL = ModelShapeTest.MIXTRAL_8X22B.toString();

    record Result(int code, String out, String err) {
    }

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = PlanCli.run(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), args);
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void tableShowsTheBestPlanAndRunnerUps() {
        Result r = run("--model", MODEL, "--slo-tbt-ms", "150", "--top", "3");
        assertEquals(0, r.code(), r.err());
        assertEquals("", r.err());
        String[] lines = r.out().split("\n");
        assertTrue(lines[0].startsWith("mixtral-8x22b: 141B parameters, 56 layers, 8 experts, top-2; TBT SLO 150 ms"),
                lines[0]);
        assertTrue(lines[1].matches("Best plan: attention \\d+ pods? × \\d H20 \\(tp \\d\\), experts 8 pods × \\d L40S "
                + "\\(tp \\d\\), 3 micro-batches, batch \\d+"), lines[1]);
        int header = -1;
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].startsWith("rank")) {
                header = i;
            }
        }
        assertTrue(header > 0, r.out());
        for (int rank = 1; rank <= 3; rank++) {
            assertTrue(lines[header + rank].startsWith(rank + " "), lines[header + rank]);
        }
        assertTrue(lines[header + 1].contains("H20 tp") && lines[header + 1].contains("L40S tp"), lines[header + 1]);
        assertTrue(lines[header + 4].contains("hardware shapes fit"), lines[header + 4]);
    }

    @Test
    void jsonIsTheBestPlanAsOneObject() throws IOException {
        Result r = run("--model", MODEL + "/config.json", "--slo-tbt-ms", "150", "--json",
                "--attention-gpu", "H20", "--expert-gpu", "L40S");
        assertEquals(0, r.code(), r.err());
        assertEquals(1, r.out().strip().lines().count());
        JsonNode j = JsonMapper.builder().build().readTree(r.out());
        assertEquals("H20", j.get("attention").get("gpu").asText());
        assertEquals("L40S", j.get("experts").get("gpu").asText());
        assertEquals(8, j.get("experts").get("pods").asInt());
        assertTrue(j.get("attention").get("tp").asInt() >= 1 && j.get("attention").get("pods").asInt() >= 1);
        assertEquals(3, j.get("micro_batches").asInt());
        double tbt = j.get("tbt_ms").asDouble();
        assertTrue(tbt > 0 && tbt <= 150, "tbt " + tbt);
        assertEquals(j.get("batch").asInt() / (tbt / 1e3), j.get("tokens_per_s").asDouble(), 1e-6);
        double cost = j.get("attention").get("tp").asInt() * j.get("attention").get("pods").asInt() * 1.85
                + j.get("experts").get("tp").asInt() * 8 * 1.08;
        assertEquals(cost, j.get("cost_per_hour").asDouble(), 1e-9);
        // the same plan the library returns
        DeploymentPlan best = new Planner().plan(PlanRequest.of(ModelShape.fromConfigJson(Path.of(MODEL)), 150,
                GpuCatalog.builtin()).withGpus("H20", "L40S")).getFirst();
        assertEquals(best.batch(), j.get("batch").asInt());
        assertEquals(best.attention().pods(), j.get("attention").get("pods").asInt());
        assertEquals(best.tbtMs(), tbt, 1e-9);
    }

    @Test
    void pinnedGpusPricesAndMicroBatchesAreHonoured() throws IOException {
        Result r = run("--model", MODEL, "--slo-tbt-ms", "150", "--attention-gpu", "l40s", "--expert-gpu", "L40S",
                "--micro-batches", "4", "--price", "L40S=2.0", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = JsonMapper.builder().build().readTree(r.out());
        assertEquals("L40S", j.get("attention").get("gpu").asText());
        assertEquals(4, j.get("micro_batches").asInt());
        int gpus = j.get("attention").get("tp").asInt() * j.get("attention").get("pods").asInt()
                + j.get("experts").get("tp").asInt() * j.get("experts").get("pods").asInt();
        assertEquals(gpus * 2.0, j.get("cost_per_hour").asDouble(), 1e-9);
    }

    @Test
    void missingFile() {
        assertBadInput(run("--model", "/no/such/dir/config.json", "--slo-tbt-ms", "150"),
                "error: no such file: /no/such/dir/config.json");
    }

    @Test
    void notAMoeConfig(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("config.json"), """
                {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                 "num_attention_heads": 32, "vocab_size": 128256}""");
        assertBadInput(run("--model", dir.toString(), "--slo-tbt-ms", "150"), "error: " + dir.resolve("config.json")
                + " is not a Mixture-of-Experts config");
    }

    @Test
    void unknownGpuListsTheKnownOnes() {
        assertBadInput(run("--model", MODEL, "--slo-tbt-ms", "150", "--expert-gpu", "B200"),
                "error: unknown GPU type 'B200'; known types: L20, H800, A800, H20, L40S, A100, H100, H200, L4");
    }

    @Test
    void infeasibleSlo() {
        assertBadInput(run("--model", MODEL, "--slo-tbt-ms", "1", "--attention-gpu", "H20", "--expert-gpu", "L40S"),
                "error: no plan meets tbt 1 ms: the fastest candidate needs ");
    }

    @Test
    void badOptions() {
        assertBadInput(run("--slo-tbt-ms", "150"), "error: Missing required option: '--model=config.json|DIR'");
        assertBadInput(run("--model", MODEL, "--slo-tbt-ms", "fast"), "error: Invalid value for option '--slo-tbt-ms'");
        assertBadInput(run("--model", MODEL, "--slo-tbt-ms", "-3"), "error: the TBT SLO must be a positive number");
        assertBadInput(run("--model", MODEL, "--slo-tbt-ms", "150", "--top", "0"), "error: --top must be at least 1");
        assertBadInput(run("--model", MODEL, "--slo-tbt-ms", "150", "--price", "B200=3"), "error: unknown GPU type 'B200'");
    }

    private static void assertBadInput(Result r, String expectedStart) {
        assertEquals(2, r.code(), r.out() + r.err());
        assertEquals("", r.out());
        String err = r.err().strip();
        assertFalse(err.contains("\n"), "one line expected: " + err);
        assertTrue(err.startsWith(expectedStart), err);
        assertFalse(err.contains("Exception") || err.contains("\tat "), err);
    }
}
