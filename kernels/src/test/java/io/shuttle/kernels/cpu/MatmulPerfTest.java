package io.shuttle.kernels.cpu;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.Arrays;

/**
 * Hand-run performance check (tag "perf", excluded from the normal build):
 * <pre>./mvnw -B -o -q -pl kernels test -Dgroups=perf -DexcludedGroups=none -Dtest=MatmulPerfTest</pre>
 * Prints GEMV bandwidth efficiency (n = 1 over 512 MB of weights, larger than this machine's
 * 300 MB LLC) against {@link MemoryBandwidth}, GEMM GFLOP/s at n = 256, and the cost of a tiny
 * op (dispatch overhead). System properties {@code perf.threads} and {@code perf.mb} override the
 * thread count and the GEMV weight size.
 */
@Tag("perf")
class MatmulPerfTest {

    @Test
    void report() {
        int threads = Integer.getInteger("perf.threads", Runtime.getRuntime().availableProcessors());
        long weightBytes = Long.getLong("perf.mb", 512L) << 20;
        int rounds = Integer.getInteger("perf.rounds", 4);
        int k = 8192;
        try (CpuBackend cpu = new CpuBackend(threads)) {
            System.out.printf("backend %s%n", cpu.name());
            DType[] types = {DType.BF16, DType.F32, DType.F16};
            Tensor x = cpu.allocate(DType.F32, 1, k);
            fill(x);
            Tensor[] w = new Tensor[types.length];
            Tensor[] out = new Tensor[types.length];
            for (int i = 0; i < types.length; i++) {
                int m = (int) (weightBytes / ((long) k * types[i].byteSize()));
                w[i] = cpu.allocate(types[i], m, k);
                fill(w[i]);
                out[i] = cpu.allocate(DType.F32, 1, m);
            }
            // Interleave bandwidth and GEMV rounds so both see the same (shared, noisy) machine.
            double bestBw = 0;
            double[] bestGemv = new double[types.length];
            for (int r = 0; r < rounds; r++) {
                double bw = MemoryBandwidth.measureReadBytesPerSecond(weightBytes, threads, Duration.ofMillis(1500));
                bestBw = Math.max(bestBw, bw);
                StringBuilder line = new StringBuilder(String.format("round %d: bandwidth %.2f GB/s", r, bw / 1e9));
                for (int i = 0; i < types.length; i++) {
                    int idx = i;
                    double t = time(8, () -> cpu.matmul(x, w[idx], out[idx]))[0];
                    double rate = w[i].byteSize() / t;
                    bestGemv[i] = Math.max(bestGemv[i], rate);
                    line.append(String.format(", GEMV %s %.2f GB/s (%.2f)", types[i], rate / 1e9, rate / bw));
                }
                System.out.println(line);
            }
            System.out.printf("best read bandwidth over %d MB: %.2f GB/s%n", weightBytes >> 20, bestBw / 1e9);
            org.junit.jupiter.api.Assertions.assertTrue(bestBw > 0, "the bandwidth probe measured nothing");
            for (int i = 0; i < types.length; i++) {
                System.out.printf("GEMV n=1 %s %s (%d MB): best %.2f GB/s, efficiency %.2f of best bandwidth%n",
                        types[i], java.util.Arrays.toString(w[i].shape()), w[i].byteSize() >> 20, bestGemv[i] / 1e9,
                        bestGemv[i] / bestBw);
                org.junit.jupiter.api.Assertions.assertTrue(Double.isFinite(bestGemv[i]) && bestGemv[i] > 0,
                        "GEMV " + types[i] + " timing is not a positive rate");
                cpu.release(w[i]);
                cpu.release(out[i]);
            }
            for (DType dt : new DType[] {DType.BF16, DType.F32}) {
                int n = 256, gk = 1024, gm = 4096;
                double[] t = gemm(cpu, dt, n, gm, gk);
                double flops = 2.0 * n * gm * gk;
                System.out.printf("GEMM %s n=%d k=%d m=%d: best %.1f GFLOP/s, median %.1f GFLOP/s%n",
                        dt, n, gk, gm, flops / t[0] / 1e9, flops / t[1] / 1e9);
            }
            double[] small = gemv(cpu, DType.BF16, 256, 1024);
            System.out.printf("small GEMV bf16 [256 x 1024] (parallel): best %.1f us, median %.1f us%n",
                    small[0] * 1e6, small[1] * 1e6);
        }
    }

    /** {best, median} seconds per call. */
    private static double[] gemv(CpuBackend cpu, DType dt, int m, int k) {
        Tensor w = cpu.allocate(dt, m, k);
        Tensor x = cpu.allocate(DType.F32, 1, k);
        Tensor out = cpu.allocate(DType.F32, 1, m);
        fill(w);
        fill(x);
        int reps = (long) m * k * dt.byteSize() > (64L << 20) ? 20 : 2000;
        double[] t = time(reps, () -> cpu.matmul(x, w, out));
        cpu.release(w);
        cpu.release(x);
        cpu.release(out);
        return t;
    }

    private static double[] gemm(CpuBackend cpu, DType dt, int n, int m, int k) {
        Tensor w = cpu.allocate(dt, m, k);
        Tensor x = cpu.allocate(DType.F32, n, k);
        Tensor out = cpu.allocate(DType.F32, n, m);
        fill(w);
        fill(x);
        double[] t = time(20, () -> cpu.matmul(x, w, out));
        cpu.release(w);
        cpu.release(x);
        cpu.release(out);
        return t;
    }

    private static double[] time(int reps, Runnable r) {
        for (int i = 0; i < Math.max(3, reps / 5); i++) {
            r.run();
        }
        double[] s = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            r.run();
            s[i] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(s);
        return new double[] {s[0], s[reps / 2]};
    }

    /** Cheap deterministic non-trivial values (a random fill of 512 MB element by element is slow). */
    private static void fill(Tensor t) {
        MemorySegment d = t.data();
        int bytes = t.dtype().byteSize();
        long n = t.numel();
        if (bytes == 4) {
            for (long i = 0; i < n; i++) {
                d.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, ((i * 2654435761L) & 1023) / 1024f - 0.5f);
            }
        } else {
            for (long i = 0; i < n; i++) {
                t.setFloat(i, ((i * 2654435761L) & 1023) / 1024f - 0.5f);
            }
        }
    }
}
