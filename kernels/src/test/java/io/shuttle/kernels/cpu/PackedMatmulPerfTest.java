package io.shuttle.kernels.cpu;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Random;

/**
 * Hand-run comparison (tag "perf", excluded from the normal build) of BF16 expert FFNs through
 * the checkpoint layout and through {@link PackedBf16}, measured side by side in one run:
 * <pre>./mvnw -B -o -q -pl kernels test -Dgroups=perf -DexcludedGroups=none -Dtest=PackedMatmulPerfTest</pre>
 * The shapes are the pipeline benchmark model's experts (hidden 512, intermediate 256, 64
 * experts = 8 layers × 8, 50 MB: from the LLC, as in a pod); each expert runs gate and up
 * (one call) and down for n rows. System properties {@code perf.threads} (default 1, a pod's
 * compute thread), {@code perf.intermediate} and {@code perf.rounds} change the set-up.
 */
@Tag("perf")
class PackedMatmulPerfTest {

    @Test
    void report() {
        int threads = Integer.getInteger("perf.threads", 1);
        int f = Integer.getInteger("perf.intermediate", 256);
        int rounds = Integer.getInteger("perf.rounds", 3);
        int h = 512;
        int experts = 64;
        Random rnd = new Random(1);
        try (CpuBackend cpu = new CpuBackend(threads)) {
            Tensor[][] plain = new Tensor[experts][];
            Tensor[][] packed = new Tensor[experts][];
            for (int e = 0; e < experts; e++) {
                plain[e] = new Tensor[] {bf16(cpu, rnd, f, h), bf16(cpu, rnd, f, h), bf16(cpu, rnd, h, f)};
                packed[e] = new Tensor[] {cpu.prepareLinear(plain[e][0]), cpu.prepareLinear(plain[e][1]),
                        cpu.prepareLinear(plain[e][2])};
            }
            System.out.printf("backend %s, experts %d x (2 x [%d, %d] + [%d, %d]) BF16%n", cpu.name(), experts, f, h, h, f);
            for (int round = 0; round < rounds; round++) {
                for (int n : new int[] {1, 4, 8, 16, 32, 256}) {
                    Tensor x = cpu.allocate(DType.F32, n, h);
                    for (long i = 0; i < x.numel(); i++) {
                        x.setFloat(i, (float) rnd.nextGaussian());
                    }
                    Tensor gate = cpu.allocate(DType.F32, n, f);
                    Tensor up = cpu.allocate(DType.F32, n, f);
                    Tensor down = cpu.allocate(DType.F32, n, h);
                    double flop = 2.0 * n * 3.0 * f * h * experts;
                    double rowMajor = flop / best(n, () -> ffn(cpu, plain, x, gate, up, down));
                    double pack = flop / best(n, () -> ffn(cpu, packed, x, gate, up, down));
                    System.out.printf("round %d  n=%3d  checkpoint layout %6.1f GFLOP/s  packed %6.1f GFLOP/s  x%.2f%n",
                            round, n, rowMajor, pack, pack / rowMajor);
                    org.junit.jupiter.api.Assertions.assertTrue(pack > 0 && rowMajor > 0);
                }
            }
        }
    }

    private static void ffn(CpuBackend cpu, Tensor[][] w, Tensor x, Tensor gate, Tensor up, Tensor down) {
        for (Tensor[] e : w) {
            cpu.matmulMany(x, new Tensor[] {e[0], e[1]}, new Tensor[] {gate, up});
            cpu.matmul(gate, e[2], down);
        }
    }

    /** Best of several passes over all experts, in ns. */
    private static double best(int n, Runnable pass) {
        long best = Long.MAX_VALUE;
        for (int i = 0; i < (n > 32 ? 3 : 15); i++) {
            long t0 = System.nanoTime();
            pass.run();
            best = Math.min(best, System.nanoTime() - t0);
        }
        return best;
    }

    private static Tensor bf16(CpuBackend cpu, Random rnd, int rows, int cols) {
        Tensor t = cpu.allocate(DType.BF16, rows, cols);
        for (long i = 0; i < t.numel(); i++) {
            t.setFloat(i, (float) rnd.nextGaussian() * 0.05f);
        }
        return t;
    }
}
