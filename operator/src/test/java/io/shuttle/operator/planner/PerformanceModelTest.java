package io.shuttle.operator.planner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The formulas against values worked out by hand (the arithmetic is spelled out in each test). */
class PerformanceModelTest {

    static final ModelShape MIXTRAL = ModelShape.mixtral8x22b();
    static final GpuCatalog CATALOG = GpuCatalog.builtin();
    static final GpuType H20 = CATALOG.require("H20");
    static final GpuType L40S = CATALOG.require("L40S");
    // defaults: 80 % of peak bandwidth, 70 % of peak FLOP/s
    static final double H20_BW = 4096e9 * 0.8;
    static final double H20_FLOPS = 148e12 * 0.7;
    static final double L40S_BW = 864e9 * 0.8;
    static final double L40S_FLOPS = 362e12 * 0.7;

    final PerformanceModel perf = new PerformanceModel(MIXTRAL, 650, PerfConstants.defaults());

    @Test
    void attentionLayerOnOneH20() {
        // attention parameters per layer: Q 6144·48·128 + K,V 2·6144·8·128 + O 48·128·6144 + gate 6144·8 + norms 2·6144
        long params = 37_748_736L + 12_582_912L + 37_748_736L + 49_152L + 12_288L;
        assertEquals(params, MIXTRAL.attentionParamsPerLayer());
        double weights = 2.0 * params / H20_BW;        // 53.8 µs: memory-bound below ~31 sequences
        double kvPerSeq = 650 * 4096 / H20_BW;          // 0.81 µs: each sequence's K and V, 650 tokens
        double fixed = 20e-6;                           // launch cost, no all-reduce at tp 1
        LayerTime ta = perf.attention(H20, 1);
        assertEquals(weights + 10 * kvPerSeq + fixed, ta.at(10), 1e-12);
        // at 100 sequences the projections turn compute-bound: 2 FLOPs per weight per sequence
        double projections = 100 * 2.0 * params / H20_FLOPS;
        assertTrue(projections > weights);
        assertEquals(projections + 100 * kvPerSeq + fixed, ta.at(100), 1e-12);
        // the paper's k1, k2 on the memory-bound piece
        Line k = ta.tangentAt(10);
        assertEquals(kvPerSeq, k.slope(), 1e-15);
        assertEquals(weights + fixed, k.intercept(), 1e-12);
    }

    @Test
    void expertLayerOnTwoL40sWithPcieAllReduce() {
        double params = 3.0 * 6144 * 16384 / 2;         // one expert, half per GPU
        double weights = 2 * params / L40S_BW;          // 437 µs
        double flopsPerToken = 2 * params / L40S_FLOPS; // 1.19 µs; ridge at ~367 tokens
        double allReduce = 2.0 * (2 - 1) / 2 * 6144 * 2 / (32e9 * 0.8); // ring all-reduce of h over PCIe: 0.48 µs
        double fixed = 10e-6 + 10e-6;                   // launches + the all-reduce's latency
        LayerTime te = perf.expert(L40S, 2, 1);
        assertEquals(weights + 100 * allReduce + fixed, te.at(100), 1e-12);
        assertEquals(500 * flopsPerToken + 500 * allReduce + fixed, te.at(500), 1e-12);
        Line k = te.tangentAt(500); // compute-bound piece: k3 = FLOPs per token + all-reduce per token
        assertEquals(flopsPerToken + allReduce, k.slope(), 1e-15);
        // two experts per pod stream twice the weights
        assertEquals(2 * weights + 100 * allReduce + fixed, perf.expert(L40S, 2, 2).at(100), 1e-12);
    }

    @Test
    void kvHeadsReplicateWhenTpExceedsThem() {
        ModelShape fewKv = new ModelShape("gqa2", 4, 1024, 2048, 8, 2, 16, 2, 64, 1000, 2);
        PerformanceModel p = new PerformanceModel(fewKv, 100, PerfConstants.defaults());
        // 2 KV heads over 8 GPUs: each GPU keeps one head, the pod holds 8 heads' worth
        assertEquals(100.0 * 4 * (2 * 1 * 64 * 2) * 8, p.kvBytesPerSequence(8));
        assertEquals(100.0 * 4 * (2 * 2 * 64 * 2), p.kvBytesPerSequence(1));
    }

    @Test
    void transferTimeFollowsEq6WithTheUtilCurve() {
        // one H20 sends b_a·h·K/tp_a bf16 elements: 128 · 6144 · 2 · 2 B = 3 MiB at 200 Gbit/s
        double bytes = 128 * 6144 * 2 * 2;
        assertEquals(3.0 * 1024 * 1024, bytes);
        // standard curve 0.9·x/(x + 128 KiB), sampled at 2 MiB and 4 MiB, interpolated in log2(size)
        double u2 = 0.9 * 2097152 / (2097152 + 131072);
        double u4 = 0.9 * 4194304 / (4194304 + 131072);
        double u = u2 + (Math.log(1.5) / Math.log(2)) * (u4 - u2);
        assertEquals(bytes / (25e9 * u), perf.sendSeconds(H20, 1, 128), 1e-12);
        // an L40S pair (tp 2) receives b_e·h/tp_e: 256 · 6144 / 2 elements = 1.5 MiB at 100 Gbit/s
        double recv = 256 * 6144 * 2 / 2.0;
        assertEquals(recv / (12.5e9 * UtilCurve.standard().at(recv)), perf.receiveSeconds(L40S, 2, 256), 1e-12);
    }

    @Test
    void utilCurveInterpolatesAndIsLatencyBoundBelowItsFirstPoint() {
        UtilCurve c = UtilCurve.of(List.of(new UtilCurve.Point(4096, 0.2), new UtilCurve.Point(1024, 0.1),
                new UtilCurve.Point(16384, 0.8)));
        assertEquals(0.1, c.at(1024), 1e-12);
        assertEquals(0.15, c.at(2048), 1e-12);    // halfway in log2 between 1 KiB and 4 KiB
        assertEquals(0.5, c.at(8192), 1e-12);
        assertEquals(0.8, c.at(1 << 20), 1e-12);  // flat past the last point
        // below the first point the time stays that of the first point
        assertEquals(c.seconds(1024, 1e9), c.seconds(100, 1e9), 1e-18);
        assertEquals(0, c.seconds(0, 1e9));
    }

    @Test
    void memoryIsEq8PlusEmbeddingAndHead() {
        // weights: 56 layers of attention + embedding and head (2 · 32000 · 6144) + final norm, 2 B each
        double weights = 2.0 * (56.0 * MIXTRAL.attentionParamsPerLayer() + 2.0 * 32000 * 6144 + 6144);
        // Eq. 8's KV term: m · b_a · s · L · 4h/g bytes = 3 · 100 · 650 · 56 · 4096
        double kv = 3.0 * 100 * 650 * 56 * 4096;
        assertEquals(weights + kv, perf.attentionPodBytes(1, 3, 100), 1);
        assertEquals(96 * Math.pow(1024, 3) * 0.9, perf.capacity(H20, 1), 1e-3);
        assertEquals(2 * 3.0 * 6144 * 16384 * 56, perf.expertPodBytes(1));
    }

    @Test
    void outputHeadStreamsTheVocabularyProjection() {
        double params = 32000.0 * 6144 / 4;
        LayerTime head = perf.head(H20, 4);
        assertEquals(2 * params / H20_BW, head.at(1), 1e-12);
        assertEquals(1000 * 2 * params / H20_FLOPS, head.at(1000), 1e-12);
    }
}
