package io.shuttle.kernels.cpu;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hand-run comparison (tag "perf") of the batch-1 expert matmuls against the bandwidth probe
 * replaying exactly the same packed bytes with the same threads, side by side in one run: how
 * close the single-row kernel, with one pool dispatch (and barrier) per call as in a decode
 * step, comes to the read ceiling of issue 2's efficiency figure.
 * <pre>./mvnw -B -o -q -pl kernels test -Dgroups=perf -DexcludedGroups=none -Dtest=DecodeStreamPerfTest -Dperf.threads=2</pre>
 * Shapes: the {@code small} preset's experts (hidden 512, intermediate 768), 64 of them
 * (8 layers × 8, 151 MB, more than this machine's LLC), gate and up in one call, then down.
 */
@Tag("perf")
class DecodeStreamPerfTest {

    @Test
    void report() {
        int threads = Integer.getInteger("perf.threads", 2);
        int f = Integer.getInteger("perf.intermediate", 768);
        int h = 512;
        int experts = 64;
        Random rnd = new Random(1);
        try (CpuBackend cpu = new CpuBackend(threads)) {
            Tensor[][] packed = new Tensor[experts][];
            MemorySegment[] regions = new MemorySegment[experts * 3];
            long bytes = 0;
            for (int e = 0; e < experts; e++) {
                packed[e] = new Tensor[] {cpu.prepareLinear(bf16(cpu, rnd, f, h)), cpu.prepareLinear(bf16(cpu, rnd, f, h)),
                        cpu.prepareLinear(bf16(cpu, rnd, h, f))};
                for (int j = 0; j < 3; j++) {
                    regions[3 * e + j] = packed[e][j].data();
                    bytes += packed[e][j].data().byteSize();
                }
            }
            Tensor x = cpu.allocate(DType.F32, 1, h);
            for (long i = 0; i < x.numel(); i++) {
                x.setFloat(i, (float) rnd.nextGaussian());
            }
            Tensor gate = cpu.allocate(DType.F32, 1, f);
            Tensor up = cpu.allocate(DType.F32, 1, f);
            Tensor down = cpu.allocate(DType.F32, 1, h);
            for (int round = 0; round < 4; round++) {
                long best = Long.MAX_VALUE;
                for (int i = 0; i < 15; i++) {
                    long t0 = System.nanoTime();
                    for (Tensor[] e : packed) {
                        cpu.matmulMany(x, new Tensor[] {e[0], e[1]}, new Tensor[] {gate, up});
                        cpu.matmul(gate, e[2], down);
                    }
                    best = Math.min(best, System.nanoTime() - t0);
                }
                double kernel = bytes / (double) best;
                double replay = MemoryBandwidth.measureReplayBytesPerSecond(regions, threads, Duration.ofMillis(500)) / 1e9;
                System.out.printf("round %d, %d thread(s): kernel %.1f GB/s, replay of the same bytes %.1f GB/s, ratio %.2f%n",
                        round, threads, kernel, replay, kernel / replay);
                assertTrue(kernel > 0 && replay > 0);
            }
        }
    }

    private static Tensor bf16(CpuBackend cpu, Random rnd, int rows, int cols) {
        Tensor t = cpu.allocate(DType.BF16, rows, cols);
        for (long i = 0; i < t.numel(); i++) {
            t.setFloat(i, (float) rnd.nextGaussian() * 0.05f);
        }
        return t;
    }
}
