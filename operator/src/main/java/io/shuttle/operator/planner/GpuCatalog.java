package io.shuttle.operator.planner;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The GPU types the planner may choose from. Immutable; overrides return a new catalog.
 *
 * <p>Built-in figures. Prices are the paper's Table 3 normalisation (L20 = 1.00 per GPU-hour).
 * <ul>
 * <li><b>L20, H800, A800, H20, L40S</b>: memory, bandwidth, TFLOP/s and price exactly as the
 * paper's Table 3 (arXiv 2504.02263 §4.3). The paper turns vendor TB/s into GB/s with ×1024
 * (H20 4.0 TB/s → 4096), so the extra Hopper parts below are converted the same way to keep the
 * ranking consistent.
 * <li><b>A100</b> 80GB SXM: NVIDIA A100 datasheet (2,039 GB/s, 312 TFLOP/s dense bf16, NVLink
 * 600 GB/s); price = A800 (same silicon, the A800 only cuts NVLink to 400 GB/s).
 * <li><b>H100</b> SXM: NVIDIA H100 datasheet (3.35 TB/s, 989 TFLOP/s dense bf16, NVLink 900 GB/s);
 * price = H800 (same silicon, NVLink cut to 400 GB/s).
 * <li><b>H200</b> SXM: NVIDIA H200 datasheet (141 GB, 4.8 TB/s, 989 TFLOP/s dense bf16, NVLink
 * 900 GB/s); price = H800 × 1.35, the ratio of the mid-points of hyperscaler on-demand ranges for
 * H200 ($4.50–7.00) and H100 ($3.50–5.00) in Mercatus' May 2026 cloud GPU price survey.
 * <li><b>L4</b>: NVIDIA L4 datasheet (24 GB, 300 GB/s, 121 TFLOP/s dense bf16 = half the 242
 * quoted with sparsity, PCIe Gen4); price = L40S × 0.51, the ratio of RunPod's on-demand prices
 * ($0.44 L4, $0.86 L40S, 2025).
 * </ul>
 * Network per GPU: the paper's heterogeneous testbed has 4 × 400 Gbps per H20 node and 2 × 400
 * Gbps per L40S node, its homogeneous one 8 × 200 Gbps per A800 node; with 8 GPUs a node that is
 * 200 (H20), 100 (L40S; L20 assumed alike) and 200 (A800; A100 alike) Gbit/s per GPU. H800/H100/H200
 * nodes usually carry one 400 Gbps NIC per GPU. L4 is an assumption: 100 Gbps per 8-GPU VM
 * (Google Cloud's g2-standard-96), 12.5 per GPU. Intra-node bandwidth per direction: half the
 * vendors' bidirectional NVLink figure, or PCIe Gen4 x16 (32 GB/s) for the PCIe-only cards.
 */
public final class GpuCatalog {

    private final Map<String, GpuType> types;

    private GpuCatalog(Map<String, GpuType> types) {
        this.types = Collections.unmodifiableMap(types);
    }

    /** The paper's Table 3 plus A100, H100, H200 and L4 (see the class comment for sources). */
    public static GpuCatalog builtin() {
        double pcie = GpuType.PCIE_GEN4_X16_GBS;
        List<GpuType> all = List.of(
                new GpuType("L20", 48, 864, 119.5, 100, 1.00, pcie),
                new GpuType("H800", 80, 3430.4, 989, 400, 5.28, 200),
                new GpuType("A800", 80, 2039, 312, 200, 2.26, 200),
                new GpuType("H20", 96, 4096, 148, 200, 1.85, 450),
                new GpuType("L40S", 48, 864, 362, 100, 1.08, pcie),
                new GpuType("A100", 80, 2039, 312, 200, 2.26, 300),
                new GpuType("H100", 80, 3430.4, 989, 400, 5.28, 450),
                new GpuType("H200", 141, 4915.2, 989, 400, 7.13, 450),
                new GpuType("L4", 24, 300, 121, 12.5, 0.55, pcie));
        Map<String, GpuType> map = new LinkedHashMap<>();
        all.forEach(g -> map.put(key(g.name()), g));
        return new GpuCatalog(map);
    }

    /** A catalog of exactly these types (names must be unique, case-insensitively). */
    public static GpuCatalog of(List<GpuType> gpus) {
        Map<String, GpuType> map = new LinkedHashMap<>();
        for (GpuType g : gpus) {
            if (map.put(key(g.name()), g) != null) {
                throw new IllegalArgumentException("GPU type " + g.name() + " is listed twice");
            }
        }
        return new GpuCatalog(map);
    }

    /**
     * This catalog with some types replaced or added. The map key names the type being replaced
     * (case-insensitive); the value's own name is what plans show.
     */
    public GpuCatalog withOverrides(Map<String, GpuType> overrides) {
        Map<String, GpuType> map = new LinkedHashMap<>(types);
        overrides.forEach((name, gpu) -> {
            map.remove(key(name));
            map.put(key(gpu.name()), gpu);
        });
        return new GpuCatalog(map);
    }

    /** This catalog with new prices for existing types; an unknown name is an error listing the known ones. */
    public GpuCatalog withPrices(Map<String, Double> prices) {
        Map<String, GpuType> map = new LinkedHashMap<>(types);
        prices.forEach((name, price) -> map.put(key(name), require(name).withPricePerHour(price)));
        return new GpuCatalog(map);
    }

    /** Case-insensitive lookup. */
    public Optional<GpuType> find(String name) {
        return name == null ? Optional.empty() : Optional.ofNullable(types.get(key(name)));
    }

    /** The type, or an {@link IllegalArgumentException} that lists the known names. */
    public GpuType require(String name) {
        return find(name).orElseThrow(() -> new IllegalArgumentException(
                "unknown GPU type '" + name + "'; known types: " + String.join(", ", names())));
    }

    /** All types, in catalog order. */
    public List<GpuType> all() {
        return List.copyOf(types.values());
    }

    public List<String> names() {
        List<String> names = new ArrayList<>();
        types.values().forEach(g -> names.add(g.name()));
        return names;
    }

    private static String key(String name) {
        return name.trim().toUpperCase(Locale.ROOT);
    }
}
