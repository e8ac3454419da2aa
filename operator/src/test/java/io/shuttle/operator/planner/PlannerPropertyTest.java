package io.shuttle.operator.planner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Over seeded random models, SLOs, sequence lengths and GPU pairs, every plan the planner returns
 * keeps every constraint, each re-checked here from the plan's own numbers and the model's sizes.
 */
class PlannerPropertyTest {

    static final GpuCatalog CATALOG = GpuCatalog.builtin();

    @Test
    void noReturnedPlanViolatesTheSloMemoryOrPingPongConditions() {
        Random rnd = new Random(20250403);
        int feasible = 0;
        int infeasible = 0;
        for (int i = 0; i < 40; i++) {
            ModelShape model = randomModel(rnd, i);
            List<GpuType> gpus = CATALOG.all();
            GpuCatalog pair = GpuCatalog.of(List.of(gpus.get(rnd.nextInt(gpus.size())),
                    gpus.get(rnd.nextInt(gpus.size()))).stream().distinct().toList());
            double slo = Math.exp(Math.log(2) + rnd.nextDouble() * Math.log(300 / 2.0)); // 2..300 ms, log-uniform
            double seq = 64 + rnd.nextInt(4000);
            OptionalInt m = rnd.nextInt(4) == 0 ? OptionalInt.of(1 + rnd.nextInt(6)) : OptionalInt.empty();
            PlanRequest r = new PlanRequest(model, java.util.Optional.empty(), java.util.Optional.empty(), slo, seq,
                    pair, m);
            List<PlanEstimate> plans;
            try {
                plans = new Planner().search(r);
            } catch (PlanInfeasibleException e) {
                infeasible++;
                continue;
            }
            feasible++;
            for (PlanEstimate p : plans) {
                check(r, p);
            }
        }
        // the generator must exercise both outcomes, or this test proves nothing
        assertTrue(feasible >= 15, "feasible cases: " + feasible);
        assertTrue(infeasible >= 3, "infeasible cases: " + infeasible);
    }

    @Test
    void batchSearchAgreesWithAnExhaustiveScan() {
        Random rnd = new Random(7);
        int compared = 0;
        int exact = 0;
        for (int i = 0; i < 200; i++) {
            ModelShape model = randomModel(rnd, i);
            List<GpuType> gpus = CATALOG.all();
            double sloS = (10 + rnd.nextDouble() * 290) / 1e3;
            SearchSpace space = new SearchSpace(List.of(1, 2, 4, 8), List.of(1, 2, 3, 4), 64, 600, 0.1);
            PerformanceModel perf = new PerformanceModel(model, 64 + rnd.nextInt(4000), PerfConstants.defaults());
            Simulator sim = new Simulator(perf, space, sloS);
            Hardware hw = new Hardware(gpus.get(rnd.nextInt(gpus.size())), 1 << rnd.nextInt(4),
                    gpus.get(rnd.nextInt(gpus.size())), 1 << rnd.nextInt(4), 1);
            Simulator.Shape shape = sim.shape(hw);
            int nA = 1 + rnd.nextInt(16);
            int m = 1 + rnd.nextInt(4);
            int exhaustive = 0;
            for (int b = 1; b <= space.maxBatchPerPod(); b++) {
                Estimate e = sim.estimate(shape, nA, m, b);
                if (e.attentionPodBytes() <= shape.attentionCapacity() && e.tbt() <= sloS && sim.overlaps(e)) {
                    exhaustive = b;
                }
            }
            Simulator.Outcome o = sim.best(shape, nA, m);
            int found = o instanceof Simulator.Fits(Estimate e, int ignored) ? e.ba() : 0;
            String what = "case " + i + ": " + hw.label() + " n_a " + nA + " m " + m;
            // never larger than the true optimum, never empty when one exists, and at worst one grid
            // cell of the overlap search below it (T_c/T_f is not monotone in b_a)
            assertTrue(found <= exhaustive, what + ": found " + found + " > " + exhaustive);
            assertTrue(found * Math.pow(space.maxBatchPerPod(), 1.0 / Simulator.OVERLAP_GRID) >= exhaustive,
                    what + ": found " + found + ", exhaustive " + exhaustive);
            if (exhaustive > 0) {
                compared++;
                exact += found == exhaustive ? 1 : 0;
            }
        }
        assertTrue(compared >= 50, "feasible comparisons: " + compared);
        assertTrue(exact >= 0.95 * compared, exact + " of " + compared + " exact");
    }

    private static void check(PlanRequest r, PlanEstimate p) {
        DeploymentPlan d = p.plan();
        ModelShape model = r.model();
        int m = d.microBatches();
        String what = d + " for " + model;
        // TBT: Eq. 5 generalised, from the plan's per-layer times
        double ta = p.attentionLayerMs();
        double te = p.expertLayerMs();
        double tc = p.transferMs();
        double tf = Math.max(ta, te);
        double roundTrip = ta + te + 2 * tc;
        double tbt = roundTrip + (model.layers() - 1) * Math.max(m * tf, roundTrip) + (m - 1) * tf + m * p.headMs();
        assertEquals(tbt, d.tbtMs(), 1e-9 * tbt, what);
        assertTrue(d.tbtMs() <= r.sloTbtMs() * (1 + 1e-12), "SLO violated: " + what);
        r.microBatches().ifPresent(want -> assertEquals(want, m, what));
        // ping-pong conditions
        if (m >= 3) {
            assertTrue(tc < tf && m * tf >= 2 * (tf + tc), "ping-pong violated: " + what);
        } else if (m == 2) {
            assertTrue(tc <= 0.1 * tf, "m=2 with T_c/T_f " + tc / tf + ": " + what);
        }
        // batch: B = m · n_a · b_a
        assertEquals(0, d.batch() % (m * d.attention().pods()), what);
        int ba = d.batch() / (m * d.attention().pods());
        // memory, from the model's sizes: attention weights + m·b_a sequences of KV (replicated heads when tp > kv heads)
        int tpA = d.attention().tp();
        double kvPerSeq = r.avgSeqLen() * model.layers() * 2.0 * Math.ceilDiv(model.kvHeads(), tpA)
                * model.headDim() * model.bytesPerParam() * tpA;
        GpuType ga = r.catalog().require(d.attention().gpu());
        GpuType ge = r.catalog().require(d.experts().gpu());
        double gib = Math.pow(1024, 3);
        assertTrue(model.attentionWeightBytes() + m * ba * kvPerSeq <= tpA * ga.memoryGiB() * gib * 0.9, "memory: " + what);
        assertTrue(p.expertsPerPod() * model.expertWeightBytes() <= d.experts().tp() * ge.memoryGiB() * gib * 0.9,
                "expert memory: " + what);
        assertEquals(model.experts(), d.experts().pods() * p.expertsPerPod(), what);
        // cost and throughput
        assertEquals(d.attention().gpus() * ga.pricePerHour() + d.experts().gpus() * ge.pricePerHour(),
                d.costPerHour(), 1e-9, what);
        assertEquals(d.batch() / (d.tbtMs() / 1e3), d.tokensPerS(), 1e-6 * d.tokensPerS(), what);
    }

    /** A MoE shape within the range of public models (Mixtral, DBRX, Qwen-MoE, OLMoE, scaled-down ones). */
    static ModelShape randomModel(Random rnd, int i) {
        int headDim = rnd.nextBoolean() ? 128 : 64;
        int heads = 8 * (1 + rnd.nextInt(8));
        List<Integer> kvChoices = new ArrayList<>();
        for (int kv = 1; kv <= heads; kv *= 2) {
            if (heads % kv == 0) {
                kvChoices.add(kv);
            }
        }
        int kvHeads = kvChoices.get(rnd.nextInt(kvChoices.size()));
        int hidden = heads * headDim;
        int experts = 1 << (2 + rnd.nextInt(5)); // 4..64
        int topK = 1 + rnd.nextInt(Math.min(8, experts / 2));
        int intermediate = 256 * (1 + rnd.nextInt(64));
        int layers = 8 + rnd.nextInt(57);
        return new ModelShape("random-" + i, layers, hidden, intermediate, experts, topK, heads, kvHeads, headDim,
                32000 + rnd.nextInt(120000), 2);
    }
}
