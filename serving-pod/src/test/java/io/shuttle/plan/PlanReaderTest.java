package io.shuttle.plan;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PlanReaderTest {

    static final String VALID = """
            {
              "apiVersion": "shuttle.io/v1alpha1",
              "kind": "ServingPlan",
              "deployment": "demo",
              "attention": {"replicas": 2, "addresses": ["127.0.0.1:7100", "127.0.0.1:7101"]},
              "experts": {"replicas": 2, "addressPattern": "demo-experts-{ordinal}.demo-experts.ns.svc:7200",
                          "placement": [[0, 1, 2], [2, 3]]},
              "pipeline": {"microBatches": 2, "maxBatchTokens": 512, "maxRunning": 64, "maxWaiting": 256,
                           "maxModelLen": 2048, "kvBlocks": 1024, "kvBlockSize": 16, "roundTimeoutMillis": 5000}
            }
            """;

    @Test
    void aValidPlanIsReadWithAddressesFromListsAndPatterns(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("plan.json");
        Files.writeString(file, VALID);
        ServingPlan plan = PlanReader.read(file, 4);
        assertEquals("127.0.0.1:7101", plan.attention().address(1));
        assertEquals("demo-experts-1.demo-experts.ns.svc:7200", plan.experts().pool().address(1));
        assertEquals(2, plan.pipeline().microBatches());
        // Round trip through the writer.
        assertEquals(plan, PlanReader.parse("again", PlanReader.toJson(plan), 4));
    }

    @Test
    void everyProblemIsReportedWithItsPath() {
        String bad = VALID.replace("\"replicas\": 2, \"addresses\"", "\"replicas\": 3, \"addresses\"")
                .replace("[[0, 1, 2], [2, 3]]", "[[0, 0], [5]]")
                .replace("\"microBatches\": 2", "\"microBatches\": 0")
                .replace("127.0.0.1:7101", "127.0.0.1");
        PlanException e = assertThrows(PlanException.class, () -> PlanReader.parse("plan.json", bad, 4));
        String msg = e.getMessage();
        assertTrue(msg.contains("attention.addresses has 2 entries for 3 replicas"), msg);
        assertTrue(msg.contains("attention.addresses[1] must be host:port"), msg);
        assertTrue(msg.contains("experts.placement[0] lists expert 0 twice"), msg);
        assertTrue(msg.contains("experts.placement[1] names expert 5"), msg);
        assertTrue(msg.contains("leaves experts {1, 2, 3} on no pod"), msg);
        assertTrue(msg.contains("pipeline.microBatches must be in 1..16, got 0"), msg);
        assertTrue(e.problems().size() >= 6);
    }

    @Test
    void unknownFieldsVersionsAndBrokenJsonAreRefused(@TempDir Path dir) {
        PlanException unknown = assertThrows(PlanException.class,
                () -> PlanReader.parse("p", VALID.replace("\"kvBlocks\"", "\"kvBlokcs\""), 4));
        assertTrue(unknown.getMessage().contains("unknown field 'kvBlokcs' at pipeline"), unknown.getMessage());
        PlanException version = assertThrows(PlanException.class,
                () -> PlanReader.parse("p", VALID.replace("v1alpha1", "v9"), 4));
        assertTrue(version.getMessage().contains("this Shuttle reads 'shuttle.io/v1alpha1'"));
        PlanException broken = assertThrows(PlanException.class, () -> PlanReader.parse("p", "{\"apiVersion\": ", 4));
        assertTrue(broken.getMessage().contains("not valid plan JSON"));
        PlanException missing = assertThrows(PlanException.class, () -> PlanReader.read(dir.resolve("nope.json"), 4));
        assertTrue(missing.getMessage().contains("does not exist"));
    }
}
