package io.shuttle.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;

import static io.shuttle.kernels.cpu.Simd.L;

/**
 * Measures the sustained read bandwidth the CPU kernels can reach: the same thread pool and the
 * same kind of Vector API streaming loop as {@link MatmulGemv}, summing the floats of an
 * off-heap working set. A working set larger than the last-level cache measures DRAM; a small
 * one measures the cache. Used as the denominator of the engine benchmark's bandwidth
 * efficiency, {@code (weight bytes per decode step × steps/s) / measured bandwidth}.
 */
public final class MemoryBandwidth {
    private MemoryBandwidth() {
    }

    @SuppressWarnings("unused")
    private static volatile float sink;

    /**
     * Best of repeated full passes over the working set within {@code budget} (at least two
     * passes: the first also warms up the JIT), in bytes per second.
     *
     * @param workingSetBytes bytes to read per pass (rounded down to whole vectors, at least one)
     * @param threads         parallelism, the calling thread included (as {@link CpuBackend#CpuBackend(int)})
     * @param budget          wall time to spend measuring
     */
    public static double measureReadBytesPerSecond(long workingSetBytes, int threads, Duration budget) {
        long vectorBytes = 4L * L;
        long bytes = Math.max(vectorBytes, workingSetBytes / vectorBytes * vectorBytes);
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        try (Arena arena = Arena.ofShared()) {
            // Arena.allocate zeroes the memory, which also commits every page before timing.
            return measureReplayBytesPerSecond(new MemorySegment[] {arena.allocate(bytes, 64)}, threads, budget);
        }
    }

    /**
     * Best pass time over a given sequence of regions, read in order, in bytes per second: the
     * ceiling for a kernel that streams exactly those bytes in that order (for example the
     * weights one MoE decode step after another reads, with its routed experts, which a single
     * contiguous probe does not model: decode touches a different subset of the experts every step,
     * so its working set is the whole model, not the bytes of one step). Every thread reads its
     * contiguous share of each region in turn, with no synchronisation between regions.
     *
     * @param regions the reads of one pass, in order (a region may appear many times); readable
     *                from any thread (mapped, global or shared-arena memory)
     * @param threads parallelism, the calling thread included
     * @param budget  wall time to spend measuring (at least two passes)
     */
    public static double measureReplayBytesPerSecond(MemorySegment[] regions, int threads, Duration budget) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        if (regions.length == 0) {
            throw new IllegalArgumentException("a replay needs at least one region");
        }
        long bytes = 0;
        for (MemorySegment r : regions) {
            bytes += r.byteSize();
        }
        try (WorkerPool pool = new WorkerPool(threads, "shuttle-bandwidth-")) {
            ReplayJob job = new ReplayJob(regions, threads);
            warmUp(threads);
            long deadline = System.nanoTime() + budget.toNanos();
            double best = 0;
            int passes = 0;
            while (passes < 2 || System.nanoTime() < deadline) {
                long t0 = System.nanoTime();
                pool.run(job);
                long elapsed = System.nanoTime() - t0;
                best = Math.max(best, bytes * 1e9 / Math.max(1, elapsed));
                passes++;
            }
            sink = job.total(); // the regions hold weights of any dtype: the sum only keeps the loads alive
            return best;
        }
    }

    /** Gets the read loop compiled by C2 on a small buffer, so the timed passes do not run interpreted code. */
    private static void warmUp(int threads) {
        try (Arena arena = Arena.ofConfined()) {
            ReplayJob small = new ReplayJob(new MemorySegment[] {arena.allocate(64 << 10, 64)}, threads);
            for (int i = 0; i < 20_000; i++) {
                small.run(i % threads, threads);
            }
        }
    }

    /** Each worker sums its contiguous share of every region, region after region. */
    private static final class ReplayJob implements WorkerPool.Job {
        private final MemorySegment[] regions;
        private final float[] sums;

        ReplayJob(MemorySegment[] regions, int workers) {
            this.regions = regions;
            this.sums = new float[workers * 16]; // one cache line apart; kept so the loads cannot be dropped
        }

        @Override
        public void run(int worker, int workers) {
            float total = 0;
            for (MemorySegment r : regions) {
                total += sumShare(r, worker, workers);
            }
            sums[worker * 16] = total;
        }

        float total() {
            float t = 0;
            for (float s : sums) {
                t += s;
            }
            return t;
        }
    }

    /** Sum of share {@code worker} of {@code workers} of a region's floats (whole vectors, scalar tail in the last share). */
    private static float sumShare(MemorySegment data, int worker, int workers) {
        long vectorBytes = 4L * L;
        long vectors = data.byteSize() / vectorBytes;
        long from = vectors * worker / workers * vectorBytes;
        long to = vectors * (worker + 1) / workers * vectorBytes;
        FloatVector a0 = FloatVector.zero(Simd.F), a1 = a0, a2 = a0, a3 = a0;
        long off = from;
        for (; off + 4 * vectorBytes <= to; off += 4 * vectorBytes) {
            a0 = a0.add(FloatVector.fromMemorySegment(Simd.F, data, off, Simd.LE));
            a1 = a1.add(FloatVector.fromMemorySegment(Simd.F, data, off + vectorBytes, Simd.LE));
            a2 = a2.add(FloatVector.fromMemorySegment(Simd.F, data, off + 2 * vectorBytes, Simd.LE));
            a3 = a3.add(FloatVector.fromMemorySegment(Simd.F, data, off + 3 * vectorBytes, Simd.LE));
        }
        for (; off < to; off += vectorBytes) {
            a0 = a0.add(FloatVector.fromMemorySegment(Simd.F, data, off, Simd.LE));
        }
        float sum = a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
        if (worker == workers - 1) {
            for (long b = vectors * vectorBytes; b + 4 <= data.byteSize(); b += 4) {
                sum += data.get(Simd.F32, b);
            }
        }
        return sum;
    }
}
