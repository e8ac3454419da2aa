package io.shuttle.kernels.cpu;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
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
 * step, comes to the read ceiling of issue 2's efficiency figure. A third figure replays the same
 * bytes with one dispatch per call too, to tell the cost of the barriers from the kernel's.
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
        int experts = Integer.getInteger("perf.experts", 64);
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
                double barriered = barrieredReplay(regions, threads, bytes);
                System.out.printf("round %d, %d thread(s): kernel %.1f GB/s, replay of the same bytes %.1f GB/s, ratio %.2f; replay with a barrier per call %.1f GB/s%n",
                        round, threads, kernel, replay, kernel / replay, barriered);
                assertTrue(kernel > 0 && replay > 0);
            }
        }
    }

    /** The replay with one pool dispatch per call (gate+up, down), as the kernel pays. */
    private static double barrieredReplay(MemorySegment[] regions, int threads, long bytes) {
        try (WorkerPool pool = new WorkerPool(threads, "perf-replay-")) {
            float[] sink = new float[threads * 16];
            MemorySegment[] cur = new MemorySegment[2];
            int[] count = new int[1];
            WorkerPool.Job job = (share, shares) -> {
                float t = 0;
                for (int i = 0; i < count[0]; i++) {
                    MemorySegment d = cur[i];
                    long vb = 4L * Simd.L;
                    long vectors = d.byteSize() / vb;
                    long from = vectors * share / shares * vb;
                    long to = vectors * (share + 1) / shares * vb;
                    FloatVector a0 = FloatVector.zero(Simd.F), a1 = a0, a2 = a0, a3 = a0;
                    for (long off = from; off + 4 * vb <= to; off += 4 * vb) {
                        a0 = a0.add(FloatVector.fromMemorySegment(Simd.F, d, off, Simd.LE));
                        a1 = a1.add(FloatVector.fromMemorySegment(Simd.F, d, off + vb, Simd.LE));
                        a2 = a2.add(FloatVector.fromMemorySegment(Simd.F, d, off + 2 * vb, Simd.LE));
                        a3 = a3.add(FloatVector.fromMemorySegment(Simd.F, d, off + 3 * vb, Simd.LE));
                    }
                    t += a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
                }
                sink[share * 16] += t;
            };
            long best = Long.MAX_VALUE;
            for (int pass = 0; pass < 20; pass++) {
                long t0 = System.nanoTime();
                for (int e = 0; e < regions.length / 3; e++) {
                    cur[0] = regions[3 * e]; cur[1] = regions[3 * e + 1]; count[0] = 2;
                    pool.run(job, threads);
                    cur[0] = regions[3 * e + 2]; count[0] = 1;
                    pool.run(job, threads);
                }
                best = Math.min(best, System.nanoTime() - t0);
            }
            return bytes / (double) best;
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
