package io.shuttle.operator.planner;

/**
 * The constants the performance model adds to the datasheet figures. The paper profiles
 * {@code k1..k4} and {@code Util}; without a GPU to profile on, these turn peak figures into
 * achievable ones. Each is an assumption named in docs/PLANNER.md; replace them with measurements
 * when there are some.
 *
 * @param memoryEfficiency     achieved fraction of peak memory (and NVLink/PCIe) bandwidth; decode
 *                             GEMV and paged-attention kernels reach 70–90 % of HBM peak
 * @param computeEfficiency    achieved fraction of dense bf16 peak in the expert and projection GEMMs
 * @param usableMemoryFraction share of device memory for weights and KV cache; the rest is CUDA
 *                             context, activations and fragmentation (vLLM's default
 *                             {@code gpu_memory_utilization} is 0.9)
 * @param attentionLayerFixedS fixed cost per layer of one attention micro-batch: the ~7 kernel
 *                             launches (norm, QKV, RoPE, attention, O, gate/top-k, residual) at a few
 *                             µs each under CUDA graphs
 * @param expertLayerFixedS    the same for one expert micro-batch (gate-up GEMM, activation, down GEMM)
 * @param allReduceFixedS      fixed cost of one tensor-parallel all-reduce of a small message
 * @param util                 the bandwidth-utilisation curve of the attention↔expert transfers
 */
public record PerfConstants(double memoryEfficiency, double computeEfficiency, double usableMemoryFraction,
                            double attentionLayerFixedS, double expertLayerFixedS, double allReduceFixedS,
                            UtilCurve util) {

    public PerfConstants {
        requireFraction("memoryEfficiency", memoryEfficiency);
        requireFraction("computeEfficiency", computeEfficiency);
        requireFraction("usableMemoryFraction", usableMemoryFraction);
        requireNonNegative("attentionLayerFixedS", attentionLayerFixedS);
        requireNonNegative("expertLayerFixedS", expertLayerFixedS);
        requireNonNegative("allReduceFixedS", allReduceFixedS);
        if (util == null) {
            throw new IllegalArgumentException("util curve must not be null");
        }
    }

    public static PerfConstants defaults() {
        return new PerfConstants(0.80, 0.70, 0.90, 20e-6, 10e-6, 10e-6, UtilCurve.standard());
    }

    private static void requireFraction(String field, double v) {
        if (!(v > 0) || v > 1) {
            throw new IllegalArgumentException(field + " must be in (0, 1], got " + v);
        }
    }

    private static void requireNonNegative(String field, double v) {
        if (!(v >= 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(field + " must be a non-negative number, got " + v);
        }
    }
}
