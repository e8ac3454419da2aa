package io.shuttle.operator.planner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GpuCatalogTest {

    /** The paper's Table 3: name, price, memory GB, bandwidth GB/s, TFLOPS, GB/cost, GB/s per cost, TFLOPS/cost. */
    static final double[][] TABLE_3 = {
        {1.00, 48, 864, 119.5, 48, 864, 119.5},
        {5.28, 80, 3430.4, 989, 15.2, 649.7, 187.3},
        {2.26, 80, 2039, 312, 35.4, 902.2, 138.1},
        {1.85, 96, 4096, 148, 51.9, 2214.1, 80.0},
        {1.08, 48, 864, 362, 44.4, 800.0, 335.2},
    };
    static final List<String> TABLE_3_NAMES = List.of("L20", "H800", "A800", "H20", "L40S");

    @Test
    void builtinHoldsTable3AndItsPerCostColumnsAgree() {
        GpuCatalog c = GpuCatalog.builtin();
        for (int i = 0; i < TABLE_3_NAMES.size(); i++) {
            GpuType g = c.require(TABLE_3_NAMES.get(i));
            double[] row = TABLE_3[i];
            assertEquals(row[0], g.pricePerHour(), 1e-9, g.name());
            assertEquals(row[1], g.memoryGiB(), 1e-9, g.name());
            assertEquals(row[2], g.bandwidthGBs(), 1e-9, g.name());
            assertEquals(row[3], g.bf16Tflops(), 1e-9, g.name());
            assertEquals(row[4], g.memoryGiB() / g.pricePerHour(), 0.06, g.name());
            assertEquals(row[5], g.bandwidthGBs() / g.pricePerHour(), 0.06, g.name());
            assertEquals(row[6], g.bf16Tflops() / g.pricePerHour(), 0.06, g.name());
        }
        assertEquals(List.of("L20", "H800", "A800", "H20", "L40S", "A100", "H100", "H200", "L4"), c.names());
    }

    @Test
    void paperPlacementArgumentHoldsOnTheCatalog() {
        // §4.3: H20 has the best memory capacity and bandwidth per cost, L40S the best compute per cost
        GpuCatalog c = GpuCatalog.builtin();
        GpuType byMemory = c.all().stream().max((a, b) -> Double.compare(a.memoryGiB() / a.pricePerHour(),
                b.memoryGiB() / b.pricePerHour())).orElseThrow();
        GpuType byBandwidth = c.all().stream().max((a, b) -> Double.compare(a.bandwidthGBs() / a.pricePerHour(),
                b.bandwidthGBs() / b.pricePerHour())).orElseThrow();
        GpuType byCompute = c.all().stream().max((a, b) -> Double.compare(a.bf16Tflops() / a.pricePerHour(),
                b.bf16Tflops() / b.pricePerHour())).orElseThrow();
        assertEquals("H20", byMemory.name());
        assertEquals("H20", byBandwidth.name());
        assertEquals("L40S", byCompute.name());
    }

    @Test
    void lookupIsCaseInsensitiveAndUnknownListsTheKnownTypes() {
        GpuCatalog c = GpuCatalog.builtin();
        assertEquals("L40S", c.find("l40s").orElseThrow().name());
        assertTrue(c.find("B200").isEmpty());
        var e = assertThrows(IllegalArgumentException.class, () -> c.require("B200"));
        assertEquals("unknown GPU type 'B200'; known types: L20, H800, A800, H20, L40S, A100, H100, H200, L4",
                e.getMessage());
    }

    @Test
    void overridesAndPricesMakeNewCatalogs() {
        GpuCatalog base = GpuCatalog.builtin();
        GpuCatalog priced = base.withPrices(Map.of("h20", 3.0));
        assertEquals(3.0, priced.require("H20").pricePerHour());
        assertEquals(1.85, base.require("H20").pricePerHour()); // unchanged
        assertThrows(IllegalArgumentException.class, () -> base.withPrices(Map.of("B200", 3.0)));

        GpuType custom = new GpuType("MI300X", 192, 5300, 1307, 400, 6.0);
        assertEquals(GpuType.PCIE_GEN4_X16_GBS, custom.intraNodeGBs()); // the six-field form is conservative
        GpuCatalog extended = base.withOverrides(Map.of("MI300X", custom, "L4", base.require("L4").withPricePerHour(0.4)));
        assertEquals(custom, extended.require("mi300x"));
        assertEquals(0.4, extended.require("L4").pricePerHour());
        assertEquals(10, extended.all().size());
    }

    @Test
    void invalidTypesAreRejected() {
        var e = assertThrows(IllegalArgumentException.class, () -> new GpuType("X", 80, -1, 100, 100, 1));
        assertTrue(e.getMessage().contains("bandwidthGBs"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new GpuType(" ", 80, 1, 100, 100, 1));
        assertThrows(IllegalArgumentException.class, () -> GpuCatalog.of(List.of(
                new GpuType("A", 1, 1, 1, 1, 1), new GpuType("a", 1, 1, 1, 1, 1))));
    }
}
