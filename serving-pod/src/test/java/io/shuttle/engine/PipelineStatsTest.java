package io.shuttle.engine;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** /stats counts the rounds of steps with tokens; an idle lockstep pod's empty steps are tallied apart. */
class PipelineStatsTest {

    @Test
    void emptyLockstepStepsDoNotDiluteTheRoundFigures() {
        PipelineStats stats = new PipelineStats(StepTrace.NONE);
        long before = System.nanoTime() - 1_000_000; // every phase below "took" at least 1 ms
        stats.step(0, 0, 0); // idle: an empty step keeping the experts' rounds going
        stats.attention(0, 0, 0, before);
        stats.dispatch(0, 0, 0, before);
        stats.wait(0, 0, 0, before);
        stats.step(1, 0, 12);
        stats.attention(1, 0, 0, before);
        stats.dispatch(1, 0, 0, before);
        stats.wait(1, 0, 0, before);
        stats.attention(1, 1, 0, before);
        Map<String, Object> m = stats.snapshot();
        assertEquals(2L, m.get("rounds"));
        assertEquals(1L, m.get("empty_rounds"));
        long attention = (Long) m.get("attention_ns");
        long wait = (Long) m.get("wait_ns");
        assertTrue(attention >= 2_000_000 && attention < 3_000_000_000L, "attention_ns " + attention);
        assertTrue(wait >= 1_000_000 && wait < attention, "one counted wait: " + wait);
    }

    @Test
    void stepBoundaryWorkIsCountedApartFromTheRounds() {
        PipelineStats stats = new PipelineStats(StepTrace.NONE);
        long before = System.nanoTime() - 1_000_000;
        stats.step(0, 0, 0);
        stats.boundary(StepTrace.Boundary.SAMPLE, 0, 0, before); // an idle step's boundary: not counted
        stats.step(1, 0, 12);
        stats.boundary(StepTrace.Boundary.SAMPLE, 1, 0, before);
        stats.boundary(StepTrace.Boundary.SCHEDULE, 2, 0, before);
        stats.boundary(StepTrace.Boundary.INPUTS, 2, 0, before);
        Map<String, Object> m = stats.snapshot();
        long host = (Long) m.get("host_ns");
        assertTrue(host >= 3_000_000 && host < 4_000_000_000L, "three counted spans of >= 1 ms: " + host);
        assertEquals(0L, m.get("attention_ns"), "boundary work is not attention");
    }
}
