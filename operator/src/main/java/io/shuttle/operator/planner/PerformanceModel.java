package io.shuttle.operator.planner;

import java.util.List;

/**
 * Derives the paper's performance model (§4.2) from datasheet figures instead of profiles.
 *
 * <p>Every kernel is a roofline: the larger of the bytes it streams at the achievable memory
 * bandwidth and its FLOPs at the achievable compute rate ({@link LayerTime}). Per layer and
 * micro-batch, on one pod of {@code tp} GPUs:
 * <ul>
 * <li>attention: the projections (QKV, O) stream {@code P_attn/tp} weights and compute
 *     {@code 2·P_attn/tp} FLOPs per sequence; the attention kernel streams each sequence's KV cache
 *     ({@code s} tokens of {@code 2·kvHeads/tp·d} elements) and computes {@code 4·s·heads/tp·d}
 *     FLOPs; serially, a fixed launch cost and, for {@code tp > 1}, the all-reduce of the output;
 * <li>experts: one GEMM group streams the pod's expert weights ({@code 3·h·h'/tp} per expert) and
 *     computes {@code 2·3·h·h'/tp} FLOPs per token; serially, a fixed cost and the all-reduce.
 * </ul>
 * In the memory-bound regime this is the paper's {@code T_a = k1·b_a + k2} with {@code k2} the
 * weights and {@code k1} the KV cache per sequence; past the ridge point ({@code b > F/B}) the
 * expert GEMM turns compute-bound and {@code k3} becomes the FLOPs per token.
 * {@code T_c} is Eq. 6 with the {@link UtilCurve}; memory is Eq. 8 generalised to any KV width and
 * with the embedding and output head on the attention side.
 */
final class PerformanceModel {

    private final ModelShape model;
    private final double avgSeqLen;
    private final PerfConstants c;

    PerformanceModel(ModelShape model, double avgSeqLen, PerfConstants constants) {
        this.model = model;
        this.avgSeqLen = avgSeqLen;
        this.c = constants;
    }

    ModelShape model() {
        return model;
    }

    double avgSeqLen() {
        return avgSeqLen;
    }

    /** {@code T_a(b_a)}: one attention pod, one micro-batch of {@code b_a} sequences, one layer. */
    LayerTime attention(GpuType g, int tp) {
        double bw = bandwidth(g);
        double flops = compute(g);
        double params = (double) model.attentionParamsPerLayer() / tp;
        var projections = new LayerTime.Kernel(model.bytesPerParam() * params / bw, 0, 2.0 * params / flops);
        double kvPerSeq = avgSeqLen * kvBytesPerTokenPerLayerPerGpu(tp);
        double attnFlopsPerSeq = 4.0 * avgSeqLen * ceilDiv(model.heads(), tp) * model.headDim();
        var attention = new LayerTime.Kernel(0, kvPerSeq / bw, attnFlopsPerSeq / flops);
        Line serial = new Line(allReducePerToken(g, tp),
                c.attentionLayerFixedS() + (tp > 1 ? c.allReduceFixedS() : 0));
        return new LayerTime(List.of(projections, attention), serial);
    }

    /** {@code T_e(b_e)}: one expert pod holding {@code experts} experts, {@code b_e} tokens, one layer. */
    LayerTime expert(GpuType g, int tp, int experts) {
        double params = (double) model.expertParamsPerLayer() / tp;
        var gemms = new LayerTime.Kernel(experts * model.bytesPerParam() * params / bandwidth(g), 0,
                2.0 * params / compute(g));
        Line serial = new Line(allReducePerToken(g, tp), c.expertLayerFixedS() + (tp > 1 ? c.allReduceFixedS() : 0));
        return new LayerTime(List.of(gemms), serial);
    }

    /** Final norm and output head of one micro-batch on an attention pod, once per iteration. */
    LayerTime head(GpuType g, int tp) {
        double params = (double) model.vocab() * model.hidden() / tp;
        var gemm = new LayerTime.Kernel(model.bytesPerParam() * params / bandwidth(g), 0, 2.0 * params / compute(g));
        return new LayerTime(List.of(gemm), new Line(0, 0));
    }

    /** One-way A→E time of what one attention GPU sends: {@code b_a·h·K/tp_a} elements (Eq. 6, first term). */
    double sendSeconds(GpuType g, int tp, double ba) {
        double bytes = ba * model.hidden() * model.topK() * model.bytesPerParam() / tp;
        return c.util().seconds(bytes, g.networkBytesPerS());
    }

    /** One-way time of what one expert GPU receives: {@code b_e·h/tp_e} elements (Eq. 6, second term). */
    double receiveSeconds(GpuType g, int tp, double be) {
        double bytes = be * model.hidden() * model.bytesPerParam() / tp;
        return c.util().seconds(bytes, g.networkBytesPerS());
    }

    /** Bytes an attention pod must hold: all attention weights, embedding and head (sharded), and KV. */
    double attentionPodBytes(int tp, int m, double ba) {
        return model.attentionWeightBytes() + m * ba * kvBytesPerSequence(tp);
    }

    /** KV cache of one sequence of {@code s} tokens on a pod, all layers (KV heads replicate when {@code tp > kvHeads}). */
    double kvBytesPerSequence(int tp) {
        return avgSeqLen * model.layers() * kvBytesPerTokenPerLayerPerGpu(tp) * tp;
    }

    /** Bytes an expert pod must hold: its experts' weights across all layers. */
    double expertPodBytes(int experts) {
        return experts * model.expertWeightBytes();
    }

    /** Usable bytes of a pod of {@code tp} GPUs. */
    double capacity(GpuType g, int tp) {
        return tp * g.memoryBytes() * c.usableMemoryFraction();
    }

    private double kvBytesPerTokenPerLayerPerGpu(int tp) {
        return 2.0 * ceilDiv(model.kvHeads(), tp) * model.headDim() * model.bytesPerParam();
    }

    /** Ring all-reduce of one token's hidden vector: each GPU moves {@code 2(tp-1)/tp · h} elements. */
    private double allReducePerToken(GpuType g, int tp) {
        if (tp == 1) {
            return 0;
        }
        double bytes = 2.0 * (tp - 1) / tp * model.hidden() * model.bytesPerParam();
        return bytes / (g.intraNodeGBs() * 1e9 * c.memoryEfficiency());
    }

    private double bandwidth(GpuType g) {
        return g.bandwidthGBs() * 1e9 * c.memoryEfficiency();
    }

    private double compute(GpuType g) {
        return g.bf16Tflops() * 1e12 * c.computeEfficiency();
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}
