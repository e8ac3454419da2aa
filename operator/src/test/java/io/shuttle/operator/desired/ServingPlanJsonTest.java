package io.shuttle.operator.desired;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.shuttle.operator.Specs;
import io.shuttle.operator.api.MoEDeployment;
import io.shuttle.operator.planner.Planner;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** The operator's plan file against docs/PLAN.md: a checked fixture, and generated plans. */
class ServingPlanJsonTest {
    private final TopologyResolver resolver = new TopologyResolver(new Planner()::plan);

    private static String fixture() throws Exception {
        return Files.readString(Path.of("src/test/resources/plan/demo-tiny.json"));
    }

    @Test
    void theFixtureFollowsPlanMd() throws Exception {
        assertEquals(List.of(), PlanContract.check(fixture(), 4, 2048));
    }

    @Test
    void theContractCheckCatchesBrokenPlans() throws Exception {
        String fixture = fixture();
        assertFalse(PlanContract.check(fixture.replace("\"kvBlocks\"", "\"kvBlockz\""), 4, 2048).isEmpty());
        assertFalse(PlanContract.check(fixture.replace("[[0, 2], [1, 3]]", "[[0, 2], [1]]"), 4, 2048).isEmpty());
        assertFalse(PlanContract.check(fixture.replace("\"microBatches\": 2", "\"microBatches\": 17"), 4, 2048).isEmpty());
        assertFalse(PlanContract.check(fixture.replace("{ordinal}.demo-experts", "0.demo-experts"), 4, 2048).isEmpty());
    }

    @Test
    void theTinyExampleProducesExactlyTheFixture() throws Exception {
        MoEDeployment d = Specs.tiny();
        String json = ServingPlanJson.of("demo", "shuttle", resolver.resolve(d.getSpec()), 7100, 7200);
        ObjectMapper m = new ObjectMapper();
        assertEquals(m.readTree(fixture()), m.readTree(json));
    }

    @Test
    void thePlannedMixtralPlanFollowsPlanMd() throws Exception {
        MoEDeployment d = Specs.mixtral();
        Topology t = resolver.resolve(d.getSpec());
        String json = ServingPlanJson.of("mixtral", "serving", t, 7100, 7200);
        assertEquals(List.of(), PlanContract.check(json, 8, 65536), json);
    }
}
