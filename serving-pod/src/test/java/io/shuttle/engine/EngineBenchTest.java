package io.shuttle.engine;

import io.shuttle.reference.SafetensorsWriter;
import io.shuttle.reference.TestCheckpoints;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The engine benchmark's routing record and the weight reads it replays for the bandwidth probe. */
class EngineBenchTest {

    @TempDir
    static Path dir;
    static final TestCheckpoints.Spec SPEC = TestCheckpoints.GQA;

    @BeforeAll
    static void checkpoint() {
        TestCheckpoints.write(dir, SPEC, 5, SafetensorsWriter.DType.BF16);
    }

    @Test
    void aRecordedDecodeWindowReplaysExactlyTheWeightBytesOfItsSteps() {
        int steps = 5;
        try (EngineFixture f = new EngineFixture(dir)) {
            EngineBench bench = new EngineBench(f.engine);
            RoutingLog routing = new RoutingLog(1000);
            bench.run(1, 7, steps, 3, routing);

            int layers = SPEC.layers();
            int topK = f.engine.config().topK();
            assertEquals(steps * layers * topK, routing.size(), "one entry per routed expert per layer per timed step");
            assertEquals(0, routing.dropped());
            for (int s = 0; s < steps; s++) {
                for (int l = 0; l < layers; l++) {
                    Set<Integer> experts = new HashSet<>();
                    for (int j = 0; j < topK; j++) {
                        int i = (s * layers + l) * topK + j;
                        assertEquals(l, routing.layer(i), "entry " + i + " is out of layer order");
                        experts.add(routing.expert(i));
                    }
                    assertEquals(topK, experts.size(), "step " + s + " layer " + l + " ran an expert twice: " + experts);
                }
            }

            MemorySegment[] regions = bench.replayRegions(routing);
            long bytes = 0;
            for (MemorySegment m : regions) {
                bytes += m.byteSize();
            }
            assertEquals(steps * bench.weightBytesPerDecodeStep(), bytes,
                    "the replay must read what the benchmark counts as one step's weight bytes, per step");
            // Each step: 7 attention-side tensors per layer, 3 per routed expert, then final norm, lm_head, one embedding row.
            assertEquals(steps * (layers * (7 + 3 * topK) + 3), regions.length);
        }
    }

    @Test
    void untimedStepsAreNotRecorded() {
        try (EngineFixture f = new EngineFixture(dir)) {
            EngineBench bench = new EngineBench(f.engine);
            RoutingLog routing = new RoutingLog(1000);
            bench.run(1, 7, 2, 3, routing);
            int recorded = routing.size();
            bench.run(1, 7, 2, 3); // without a log: nothing more is recorded
            assertEquals(recorded, routing.size());
            assertThrows(IllegalArgumentException.class, () -> bench.replayRegions(new RoutingLog(4)),
                    "an empty log has nothing to replay");
        }
    }

    @Test
    void aFullLogCountsWhatItDropped() {
        RoutingLog log = new RoutingLog(2);
        log.record(0, 1);
        log.record(0, 3);
        log.record(1, 2);
        assertEquals(2, log.size());
        assertEquals(1, log.dropped());
        assertEquals(3, log.expert(1));
        assertThrows(IndexOutOfBoundsException.class, () -> log.layer(2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new RoutingLog(0));
        assertTrue(e.getMessage().contains("capacity"), e.getMessage());
    }
}
