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

    @Test
    void thePodsKvCacheHoldsTheWholeBatchAtItsLongest() {
        // 16 + 8 + 32 tokens: 4 blocks of 16 for each of 512 sequences, the local cluster's default.
        assertEquals(2048, parse().kvBlocks());
        // 128 + 8 + 32 = 168 tokens: 11 blocks each (the default's 2,048 made this batch decode in waves).
        assertEquals(512 * 11, parse("--prompt-tokens", "128").kvBlocks());
        // 16 + 8 + 100 = 124 tokens: 8 blocks each.
        assertEquals(512 * 8, parse("--steps", "100").kvBlocks());
        // Never below the default: small batches keep the pods as the other commands start them.
        assertEquals(2048, parse("--batch", "64", "--prompt-tokens", "128").kvBlocks());
    }
}
