package io.shuttle.operator.planner;

/**
 * One GPU type as the planner sees it.
 *
 * @param name          catalog name, e.g. {@code H20}
 * @param memoryGiB     device memory (vendors' "GB" for HBM/GDDR capacities are binary GiB)
 * @param bandwidthGBs  peak device-memory bandwidth, GB/s
 * @param bf16Tflops    dense (no sparsity) bf16 tensor-core peak, TFLOP/s
 * @param networkGbps   scale-out network bandwidth per GPU (node NIC bandwidth / GPUs per node), Gbit/s
 * @param pricePerHour  price of one GPU-hour in any unit, as long as all types use the same one (the
 *                      built-in catalog uses the paper's Table 3 normalisation, L20 = 1.00)
 * @param intraNodeGBs  GPU-to-GPU bandwidth inside a node per direction, GB/s (NVLink, or PCIe), used
 *                      for the tensor-parallel all-reduce
 */
public record GpuType(String name, double memoryGiB, double bandwidthGBs, double bf16Tflops, double networkGbps,
                      double pricePerHour, double intraNodeGBs) {

    /** PCIe Gen4 x16 per direction: what GPUs without NVLink (L4, L20, L40S) exchange TP data over. */
    public static final double PCIE_GEN4_X16_GBS = 32.0;

    public GpuType {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("GPU type name must not be blank");
        }
        requirePositive(name, "memoryGiB", memoryGiB);
        requirePositive(name, "bandwidthGBs", bandwidthGBs);
        requirePositive(name, "bf16Tflops", bf16Tflops);
        requirePositive(name, "networkGbps", networkGbps);
        requirePositive(name, "pricePerHour", pricePerHour);
        requirePositive(name, "intraNodeGBs", intraNodeGBs);
    }

    /** The agreed six-field form; intra-node traffic then goes over PCIe Gen4 x16 (the conservative case). */
    public GpuType(String name, double memoryGiB, double bandwidthGBs, double bf16Tflops, double networkGbps,
                   double pricePerHour) {
        this(name, memoryGiB, bandwidthGBs, bf16Tflops, networkGbps, pricePerHour, PCIE_GEN4_X16_GBS);
    }

    /** The same GPU at another price (the CRD's price overrides). */
    public GpuType withPricePerHour(double price) {
        return new GpuType(name, memoryGiB, bandwidthGBs, bf16Tflops, networkGbps, price, intraNodeGBs);
    }

    /** Scale-out bandwidth in bytes per second. */
    double networkBytesPerS() {
        return networkGbps * 1e9 / 8.0;
    }

    double memoryBytes() {
        return memoryGiB * 1024.0 * 1024.0 * 1024.0;
    }

    private static void requirePositive(String gpu, String field, double v) {
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException("GPU type " + gpu + ": " + field + " must be a positive number, got " + v);
        }
    }
}
