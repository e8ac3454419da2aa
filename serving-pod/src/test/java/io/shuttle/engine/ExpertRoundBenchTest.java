package io.shuttle.engine;

import io.shuttle.kernels.cpu.CpuBackend;
import io.shuttle.model.Checkpoint;
import io.shuttle.reference.SafetensorsWriter;
import io.shuttle.reference.TestCheckpoints;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The expert round benchmark: its fit, its bounds and a run over a real expert stage. */
class ExpertRoundBenchTest {

    @Test
    void theFitRecoversAFixedAndAPerRowCost() {
        List<ExpertRoundBench.Point> points = List.of(
                new ExpertRoundBench.Point(16, 450 + 14 * 16, 0),
                new ExpertRoundBench.Point(64, 450 + 14 * 64, 0),
                new ExpertRoundBench.Point(256, 450 + 14 * 256, 0));
        ExpertRoundBench.Fit fit = ExpertRoundBench.fit(points);
        assertEquals(450, fit.fixedMicros(), 1e-6);
        assertEquals(14, fit.perRowMicros(), 1e-9);
        var one = assertThrows(IllegalArgumentException.class,
                () -> ExpertRoundBench.fit(List.of(points.get(0), points.get(0))));
        assertTrue(one.getMessage().contains("at least two row counts"), one.getMessage());
    }

    @Test
    void measuresAnExpertPodsOwnExperts(@TempDir Path dir) {
        TestCheckpoints.Spec spec = TestCheckpoints.TOP2; // 6 experts, 3 layers
        TestCheckpoints.write(dir, spec, 3, SafetensorsWriter.DType.BF16);
        try (Checkpoint ckpt = Checkpoint.open(dir); CpuBackend backend = new CpuBackend(1)) {
            ExpertWeights held = ExpertWeights.load(ckpt, backend, new int[] {1, 4, 5});
            try (ExpertRoundBench bench = new ExpertRoundBench(ckpt.config(), held, backend, 32)) {
                assertEquals(3, bench.heldExperts());
                ExpertRoundBench.Point p = bench.measure(32, 0, 2, 7);
                assertEquals(32, p.rows());
                assertTrue(p.layersInTurnMicros() > 0 && p.oneLayerMicros() > 0, p.toString());
                var tooMany = assertThrows(IllegalArgumentException.class, () -> bench.measure(33, 0, 1, 7));
                assertTrue(tooMany.getMessage().contains("1..32"), tooMany.getMessage());
            }
            ExpertWeights single = ExpertWeights.load(ckpt, backend, new int[] {2});
            var few = assertThrows(IllegalArgumentException.class,
                    () -> new ExpertRoundBench(ckpt.config(), single, backend, 8));
            assertTrue(few.getMessage().contains("fewer than top-k = 2"), few.getMessage());
        }
    }
}
