package io.shuttle.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pipeline benchmark's defaults: batch 512, clusters side by side, three windows each, warm-ups of up to 300 s. */
class BenchPipelineOptionsTest {

    private static BenchPipelineCommand parse(String... args) {
        BenchPipelineCommand c = new BenchPipelineCommand();
        new CommandLine(c).parseArgs(args);
        return c;
    }

    @Test
    void sideBySideWithThreeWindowsAtBatch512UnlessToldOtherwise() {
        BenchPipelineCommand d = parse();
        assertTrue(d.sideBySide);
        assertEquals(3, d.repeat);
        assertEquals(512, d.batch);
        assertEquals(300, d.warmupSeconds);
        assertFalse(parse("--no-side-by-side").sideBySide);
        assertTrue(parse("--side-by-side").sideBySide);
        assertEquals(64, parse("--batch", "64").batch);
    }
}
