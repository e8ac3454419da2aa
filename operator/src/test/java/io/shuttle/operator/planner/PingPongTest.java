package io.shuttle.operator.planner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** §4.1: the ping-pong conditions and the choice of m. */
class PingPongTest {

    final Simulator sim = new Simulator(
            new PerformanceModel(ModelShape.mixtral8x22b(), 650, PerfConstants.defaults()), SearchSpace.defaults(), 0.15);

    @Test
    void eq3GivesThreeBelowHalfAndFourOtherwise() {
        assertEquals(3, Simulator.minimumOverlappingMicroBatches(0.1, 1));
        assertEquals(3, Simulator.minimumOverlappingMicroBatches(0.5, 1)); // 3·T_f = 2·(T_f + T_f/2) exactly
        assertEquals(4, Simulator.minimumOverlappingMicroBatches(0.51, 1));
        assertEquals(4, Simulator.minimumOverlappingMicroBatches(0.99, 1));
        assertThrows(IllegalArgumentException.class, () -> Simulator.minimumOverlappingMicroBatches(1, 1));
    }

    @Test
    void overlapConditionsPerMicroBatchCount() {
        assertTrue(sim.overlaps(estimate(3, 1.0, 0.9, 0.5)));   // T_c = T_f/2
        assertFalse(sim.overlaps(estimate(3, 1.0, 0.9, 0.51)));
        assertTrue(sim.overlaps(estimate(4, 1.0, 0.9, 0.99)));
        assertFalse(sim.overlaps(estimate(4, 1.0, 0.9, 1.0)));  // Eq. 2: T_c < T_f
        assertFalse(sim.overlaps(estimate(8, 1.0, 0.9, 1.2)));
        assertTrue(sim.overlaps(estimate(2, 1.0, 0.9, 0.1)));   // m = 2 only with a small gap
        assertFalse(sim.overlaps(estimate(2, 1.0, 0.9, 0.2)));
        assertTrue(sim.overlaps(estimate(1, 1.0, 0.9, 5.0)));   // no pipeline, nothing to hide
    }

    @Test
    void tbtIsEq5WhenTheOverlapIsFull() {
        GpuCatalog c = GpuCatalog.builtin();
        Simulator.Shape shape = sim.shape(new Hardware(c.require("H20"), 1, c.require("L40S"), 2, 1));
        Estimate e = sim.estimate(shape, 8, 3, 150);
        assertTrue(sim.overlaps(e));
        double eq5 = (e.ta() + e.te() + 2 * e.tc()) + e.tf() * (3 * 56 - 1);
        assertEquals(eq5 + 3 * e.head(), e.tbt(), 1e-12);
        // b_e = b_a · n_a · K / E
        assertEquals(150.0 * 8 * 2 / 8, e.be());
        assertEquals(3 * 8 * 150, e.batch());
        assertEquals(8 * 1.85 + 8 * 2 * 1.08, e.costPerHour(), 1e-9);
    }

    @Test
    void slowerNetworkMovesTheChoiceFromThreeToFourMicroBatches() {
        // the paper's search (m ∈ {3, 4}) on the H20 + L40S pair, then with 1/4 of the NIC bandwidth
        Planner paper = new Planner(PerfConstants.defaults(), SearchSpace.paper());
        GpuCatalog fast = GpuCatalog.builtin();
        PlanEstimate p = paper.search(PlanRequest.of(ModelShape.mixtral8x22b(), 150, fast).withGpus("H20", "L40S")).getFirst();
        assertEquals(3, p.plan().microBatches());
        assertTrue(p.transferRatio() < 0.5, "T_c/T_f " + p.transferRatio());

        GpuCatalog slow = fast.withOverrides(Map.of(
                "H20", slower(fast.require("H20"), 4), "L40S", slower(fast.require("L40S"), 4)));
        PlanEstimate q = paper.search(PlanRequest.of(ModelShape.mixtral8x22b(), 150, slow).withGpus("H20", "L40S")).getFirst();
        assertEquals(4, q.plan().microBatches());
        assertTrue(q.transferRatio() >= 0.5 && q.transferRatio() < 1, "T_c/T_f " + q.transferRatio());
        assertTrue(q.plan().tokensPerSPerCost() < p.plan().tokensPerSPerCost());
    }

    @Test
    void networkFarTooSlowIsReportedAsAnOverlapFailure() {
        GpuCatalog c = GpuCatalog.builtin();
        GpuCatalog crawl = c.withOverrides(Map.of(
                "H20", slower(c.require("H20"), 100), "L40S", slower(c.require("L40S"), 100)));
        // a loose SLO, so that time is not what fails: 1–2 Gbit/s cannot hide behind any T_f
        var e = assertThrows(PlanInfeasibleException.class, () -> new Planner(PerfConstants.defaults(), SearchSpace.paper())
                .search(PlanRequest.of(ModelShape.mixtral8x22b(), 1000, crawl).withGpus("H20", "L40S")));
        assertTrue(e.getMessage().startsWith("no plan meets the ping-pong conditions"), e.getMessage());
    }

    private static GpuType slower(GpuType g, double factor) {
        return new GpuType(g.name(), g.memoryGiB(), g.bandwidthGBs(), g.bf16Tflops(), g.networkGbps() / factor,
                g.pricePerHour(), g.intraNodeGBs());
    }

    private static Estimate estimate(int m, double ta, double te, double tc) {
        GpuType g = GpuCatalog.builtin().require("H20");
        return new Estimate(new Hardware(g, 1, g, 1, 1), 1, 8, m, 1, 1, ta, te, tc, 0, 1, 0, 0, 1);
    }
}
