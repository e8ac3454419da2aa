package io.shuttle.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TraceStatsCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * A hand-made trace of one attention and one expert pod, 4 steps × 2 layers, m = 1, with
     * known gaps: the expert's wait ends 30 µs after each dispatch starts, and the attention
     * pod's wait ends 100 + step µs after each combine ends.
     */
    private static JsonNode trace() {
        ArrayNode events = JSON.createArrayNode();
        meta(events, 10, "attention-0");
        meta(events, 20, "expert-0");
        double t = 1000;
        for (int step = 0; step < 4; step++) {
            for (int layer = 0; layer < 2; layer++) {
                span(events, 10, "attention", step, layer, t, 500);
                span(events, 10, "dispatch", step, layer, t + 500, 50);
                span(events, 20, "wait attention", step, layer, t - 200, 730);     // ends at t + 530
                span(events, 20, "expert compute", step, layer, t + 530, 400);
                span(events, 20, "combine", step, layer, t + 930, 20);             // ends at t + 950
                span(events, 10, "wait experts", step, layer, t + 550, 500 + step); // ends at t + 1050 + step
                t += 2000;
            }
        }
        return events;
    }

    private static void meta(ArrayNode events, int pid, String name) {
        ObjectNode m = events.addObject().put("name", "process_name").put("ph", "M").put("pid", pid);
        m.putObject("args").put("name", name);
    }

    private static void span(ArrayNode events, int pid, String phase, int step, int layer, double ts, double dur) {
        ObjectNode e = events.addObject().put("name", phase + " L" + layer).put("ph", "X").put("pid", pid).put("tid", 0)
                .put("ts", ts).put("dur", dur);
        e.putObject("args").put("step", step).put("layer", layer).put("micro_batch", 0);
    }

    @Test
    void handOffsComeFromBothProcessesClocks() {
        TraceStatsCommand.Stats s = TraceStatsCommand.analyse(trace(), 0);
        assertEquals(0, s.fromStep());
        assertEquals(3, s.toStep());
        TraceStatsCommand.Summary toExpert = s.handOffs().get("dispatch start -> expert pod has the round");
        assertEquals(8, toExpert.count());
        assertEquals(30, toExpert.median(), 1e-9);
        TraceStatsCommand.Summary toAttention = s.handOffs().get("combine end -> attention pod has the results");
        assertEquals(8, toAttention.count());
        assertEquals(101, toAttention.median(), 1e-9); // 100,100,101,101,102,102,103,103: nearest rank
        assertEquals(100, toAttention.p10(), 1e-9);
        assertEquals(101.5, toAttention.mean(), 1e-9);
        assertEquals(400, s.phases().get("expert: expert compute").median(), 1e-9);
        assertEquals(500, s.phases().get("attention: attention").median(), 1e-9);
    }

    @Test
    void handOffsOnceTheReceiverWaitsLeaveOutTheTimeItWasBusy() {
        // m = 1 above: each receiver already waits when the message leaves, so both counts agree.
        TraceStatsCommand.Stats s = TraceStatsCommand.analyse(trace(), 0);
        assertEquals(30, s.handOffs().get("dispatch -> expert pod, once it waits").median(), 1e-9);
        assertEquals(101, s.handOffs().get("combine -> attention pod, once it waits").median(), 1e-9);
        // One round at m = 2 whose receivers were busy: the expert starts waiting 100 µs after the
        // dispatch started and has the round 10 µs later; the attention pod starts waiting 300 µs
        // after the combine ended and has the results 5 µs later.
        ArrayNode events = JSON.createArrayNode();
        meta(events, 10, "attention-0");
        meta(events, 20, "expert-0");
        span(events, 10, "attention", 0, 0, 1000, 500);
        span(events, 10, "dispatch", 0, 0, 1500, 50);
        span(events, 20, "wait attention", 0, 0, 1600, 10);   // has it at 1610
        span(events, 20, "expert compute", 0, 0, 1610, 400);
        span(events, 20, "combine", 0, 0, 2010, 20);          // ends at 2030
        span(events, 10, "wait experts", 0, 0, 2330, 5);      // has it at 2335
        TraceStatsCommand.Stats busy = TraceStatsCommand.analyse(events, 0);
        assertEquals(110, busy.handOffs().get("dispatch start -> expert pod has the round").median(), 1e-9);
        assertEquals(10, busy.handOffs().get("dispatch -> expert pod, once it waits").median(), 1e-9);
        assertEquals(305, busy.handOffs().get("combine end -> attention pod has the results").median(), 1e-9);
        assertEquals(5, busy.handOffs().get("combine -> attention pod, once it waits").median(), 1e-9);
    }

    @Test
    void defaultsToTheSecondHalfAndRejectsEmptyTraces() {
        TraceStatsCommand.Stats s = TraceStatsCommand.analyse(trace(), -1);
        assertEquals(2, s.fromStep());
        assertEquals(4, s.handOffs().get("dispatch start -> expert pod has the round").count());
        assertEquals(102, s.handOffs().get("combine end -> attention pod has the results").p10(), 1e-9);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TraceStatsCommand.analyse(JSON.createArrayNode(), -1));
        assertTrue(e.getMessage().contains("--trace"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TraceStatsCommand.analyse(trace(), 9));
    }

    @Test
    void aFileThatIsNotJsonIsNamedInTheError(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path bad = dir.resolve("bad.json");
        java.nio.file.Files.writeString(bad, "not json");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TraceStatsCommand.readTrace(bad));
        assertTrue(e.getMessage().startsWith(bad + " is not a trace written by --trace"), e.getMessage());
    }
}
