package io.shuttle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code shuttle bench experts} in-process on the tiny model: one JSON object per row count, then the fit. */
class BenchExpertsCommandTest {

    @Test
    void printsEveryRowCountAndTheFit(@TempDir Path tmp) throws Exception {
        Path model = tmp.resolve("tiny");
        GenerateCommandTest.Run init = GenerateCommandTest.run("model", "init", "--preset", "tiny", "--seed", "2",
                "--out", model.toString());
        assertEquals(0, init.exit(), init.err());
        GenerateCommandTest.Run r = GenerateCommandTest.run("bench", "experts", "--model", model.toString(),
                "--rows", "4,8", "--seconds", "0.05", "--experts", "0,1,3", "--json");
        assertEquals(0, r.exit(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(3, lines.length, r.out());
        ObjectMapper json = new ObjectMapper();
        JsonNode four = json.readTree(lines[0]);
        JsonNode eight = json.readTree(lines[1]);
        assertEquals(4, four.get("rows").asInt());
        assertTrue(four.get("round_us").asDouble() > 0 && four.get("hot_round_us").asDouble() > 0, lines[0]);
        assertTrue(four.get("two_half_rounds_ratio").isNull(), "no 2-row point to halve 4 into: " + lines[0]);
        assertTrue(eight.get("two_half_rounds_ratio").asDouble() > 0, lines[1]);
        assertTrue(json.readTree(lines[2]).has("fixed_us_per_round"), lines[2]);

        GenerateCommandTest.Run bad = GenerateCommandTest.run("bench", "experts", "--model", model.toString(), "--rows", "0");
        assertEquals(1, bad.exit());
        assertTrue(bad.err().contains("--rows must be row counts ≥ 1"), bad.err());
    }
}
