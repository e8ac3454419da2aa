package io.shuttle.engine;

import io.shuttle.kernels.cpu.CpuBackend;
import io.shuttle.model.Checkpoint;
import io.shuttle.model.MixtralNames;
import io.shuttle.reference.SafetensorsWriter;
import io.shuttle.reference.TestCheckpoints;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** An expert pod maps exactly its own experts' bytes from the checkpoint, nothing else. */
class ExpertWeightsTest {

    @Test
    void onlyTheHeldExpertsAreMapped(@TempDir Path dir) {
        TestCheckpoints.Spec spec = TestCheckpoints.TOP2; // 6 experts, 3 layers
        TestCheckpoints.write(dir, spec, 3, SafetensorsWriter.DType.BF16);
        try (Checkpoint ckpt = Checkpoint.open(dir); CpuBackend backend = new CpuBackend(1)) {
            assertEquals(0, ckpt.mappedBytes(), "opening maps nothing");
            ExpertWeights held = ExpertWeights.load(ckpt, backend, new int[] {1, 4});
            long expected = 0;
            for (int layer = 0; layer < spec.layers(); layer++) {
                for (int e : new int[] {1, 4}) {
                    expected += ckpt.info(MixtralNames.expertW1(layer, e)).byteSize()
                            + ckpt.info(MixtralNames.expertW2(layer, e)).byteSize()
                            + ckpt.info(MixtralNames.expertW3(layer, e)).byteSize();
                }
            }
            assertEquals(expected, ckpt.mappedBytes(), "exactly experts 1 and 4 of every layer");
            assertTrue(ckpt.mappedBytes() * 2 < ckpt.totalBytes());
            assertTrue(held.holds(1) && held.holds(4) && !held.holds(0));
            var bad = assertThrows(IllegalArgumentException.class, () -> ExpertWeights.load(ckpt, backend, new int[] {6}));
            assertTrue(bad.getMessage().contains("out of range"), bad.getMessage());
        }
    }
}
