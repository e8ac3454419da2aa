package io.shuttle.kernels.cpu;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;
import io.shuttle.kernels.scalar.ScalarBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static io.shuttle.kernels.Fixtures.ints;
import static io.shuttle.kernels.Fixtures.random;
import static io.shuttle.kernels.Fixtures.shuffledBlocks;

/**
 * Hand-run performance check of decode attention (tag "perf", excluded from the normal build):
 * <pre>./mvnw -B -o -q -pl kernels test -Dgroups=perf -DexcludedGroups=none -Dtest=AttentionPerfTest</pre>
 * Shapes of the {@code small} model: 8 query heads over 4 KV heads of 64, cache blocks of 16;
 * n = 1, 8, 32 decode rows (each its own sequence) at context 128, 512, 2048.
 * {@link CpuBackend#pagedAttention} is timed in interleaved rounds at 1 and 2 threads so that
 * both see the same machine load; the report is µs per call and effective GB/s of K/V read. Each call
 * reads a different copy of the cache (together at least {@code perf.kvmb} MB, default 16, above
 * L2) so that K/V come from L3 or memory as they do between layers of a real decode step.
 * {@code perf.n} and {@code perf.ctx} (comma-separated) select the cases, {@code perf.headDim} the head size (default 64), {@code perf.rounds}
 * the number of interleaved rounds (default 3).
 */
@Tag("perf")
class AttentionPerfTest {

    private static final int HEADS = 8;
    private static final int KV_HEADS = 4;
    private static final int HEAD_DIM = Integer.getInteger("perf.headDim", 64);
    private static final int BLOCK = 16;
    private static final ThreadMXBean THREAD_CPU = ManagementFactory.getThreadMXBean();

    @Test
    void report() {
        int rounds = Integer.getInteger("perf.rounds", 3);
        long footprint = Long.getLong("perf.kvmb", 16L) << 20;
        int[] threads = {1, 2};
        CpuBackend[] cpus = {new CpuBackend(1), new CpuBackend(2)};
        try {
            System.out.printf("decode attention, %d heads / %d KV heads x %d, block %d, %s%n", HEADS, KV_HEADS,
                    HEAD_DIM, BLOCK, Simd.F);
            warmUp(cpus, footprint);
            for (int n : intList("perf.n", "1,8,32")) {
                for (int ctx : intList("perf.ctx", "128,512,2048")) {
                    Case c = new Case(cpus[0], n, ctx, footprint);
                    double[][] best = new double[threads.length][];
                    for (int r = 0; r < rounds; r++) {
                        for (int t = 0; t < threads.length; t++) {
                            int ti = t;
                            best[t] = min(best[t], c.time(() -> c.run(cpus[ti])));
                        }
                    }
                    StringBuilder line = new StringBuilder(String.format("n=%2d ctx=%4d (%5.0f KB K/V):", n, ctx,
                            c.kvBytes / 1024.0));
                    for (int t = 0; t < threads.length; t++) {
                        double now = best[t][1];
                        line.append(String.format("  %dT %7.1f us %5.1f GB/s (fastest %7.1f us%s)", threads[t],
                                now * 1e6, c.kvBytes / now / 1e9, best[t][0] * 1e6,
                                t == 0 ? String.format(", CPU %.1f us", best[0][2] * 1e6) : ""));
                    }
                    System.out.println(line);
                    c.check(cpus);
                    c.release(cpus[0]);
                }
            }
            System.out.println("(median of each round's calls, best round; the fastest single call is less"
                    + " disturbed by other load on a shared machine. The kernel before the GQA rewrite measured"
                    + " 1.9-4.1x slower on the same shapes: kernels/README.md)");
        } finally {
            for (CpuBackend cpu : cpus) {
                cpu.close();
            }
        }
    }

    /** Gets the kernel compiled by C2 before anything is timed (the first case would otherwise time the JIT). */
    private static void warmUp(CpuBackend[] cpus, long footprint) {
        Case c = new Case(cpus[0], 4, 200, footprint);
        long end = System.nanoTime() + 1_500_000_000L;
        while (System.nanoTime() < end) {
            for (CpuBackend cpu : cpus) {
                c.run(cpu);
            }
        }
        c.release(cpus[0]);
    }

    private static int[] intList(String property, String fallback) {
        return Arrays.stream(System.getProperty(property, fallback).split(",")).mapToInt(Integer::parseInt).toArray();
    }

    /** Element-wise minimum of {@link Case#time} results over rounds. */
    private static double[] min(double[] a, double[] b) {
        return a == null ? b : new double[] {Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.min(a[2], b[2])};
    }

    /** n decode rows, each the last position of its own sequence of ctx tokens, over several cache copies. */
    private static final class Case {
        final long kvBytes;
        final Tensor q;
        final Tensor out;
        final PagedAttentionMeta meta;
        final List<Tensor[]> copies = new ArrayList<>();
        int next;

        Case(CpuBackend be, int n, int ctx, long footprint) {
            Random rnd = new Random(42);
            int blocksPerSeq = (ctx + BLOCK - 1) / BLOCK;
            int numBlocks = n * blocksPerSeq;
            long kvRow = (long) KV_HEADS * HEAD_DIM;
            int[] table = shuffledBlocks(rnd, numBlocks);
            int[] seq = new int[n];
            int[] pos = new int[n];
            for (int i = 0; i < n; i++) {
                seq[i] = i;
                pos[i] = ctx - 1;
            }
            meta = new PagedAttentionMeta(ints(be, table, n, blocksPerSeq), BLOCK, ints(be, seq, n),
                    ints(be, pos, n));
            kvBytes = 2L * n * ctx * kvRow * 4;
            long copyBytes = 2L * numBlocks * BLOCK * kvRow * 4;
            int count = (int) Math.max(1, Math.min(64, (footprint + copyBytes - 1) / copyBytes));
            Tensor k0 = random(be, rnd, DType.F32, 1f, (long) numBlocks * BLOCK, kvRow);
            Tensor v0 = random(be, rnd, DType.F32, 1f, (long) numBlocks * BLOCK, kvRow);
            for (int i = 0; i < count; i++) {
                Tensor k = be.allocate(DType.F32, k0.shape());
                Tensor v = be.allocate(DType.F32, v0.shape());
                k.data().copyFrom(k0.data());
                v.data().copyFrom(v0.data());
                copies.add(new Tensor[] {k, v});
            }
            be.release(k0);
            be.release(v0);
            q = random(be, rnd, DType.F32, 2f, n, (long) HEADS * HEAD_DIM);
            out = be.allocate(DType.F32, n, (long) HEADS * HEAD_DIM);
        }

        void release(CpuBackend be) {
            for (Tensor[] kv : copies) {
                be.release(kv[0]);
                be.release(kv[1]);
            }
            for (Tensor t : new Tensor[] {q, out, meta.blockTables(), meta.tokenSeq(), meta.tokenPos()}) {
                be.release(t);
            }
        }

        Tensor[] nextCopy() {
            Tensor[] c = copies.get(next);
            next = (next + 1) % copies.size();
            return c;
        }

        void run(CpuBackend cpu) {
            Tensor[] kv = nextCopy();
            cpu.pagedAttention(q, kv[0], kv[1], meta, HEADS, KV_HEADS, HEAD_DIM, out);
        }

        /**
         * {fastest, median, calling thread's CPU time} seconds per call over about 60 ms of calls.
         * CPU time leaves out time the thread was not running (other load), so at one thread it
         * is the steadiest of the three.
         */
        double[] time(Runnable r) {
            long warm = System.nanoTime() + 20_000_000L;
            int calls = 0;
            while (System.nanoTime() < warm || calls < 20) {
                r.run();
                calls++;
            }
            long each = Math.max(1, 20_000_000L / calls);
            int reps = (int) Math.max(20, Math.min(20_000, 60_000_000L / each));
            double[] s = new double[reps];
            long cpu0 = THREAD_CPU.getCurrentThreadCpuTime();
            for (int i = 0; i < reps; i++) {
                long t0 = System.nanoTime();
                r.run();
                s[i] = (System.nanoTime() - t0) / 1e9;
            }
            double cpu = (THREAD_CPU.getCurrentThreadCpuTime() - cpu0) / 1e9 / reps;
            Arrays.sort(s);
            return new double[] {s[0], s[reps / 2], cpu};
        }

        /** 1 and 2 threads must agree with the scalar oracle on these inputs (guards the timing). */
        void check(CpuBackend[] cpus) {
            try (ScalarBackend oracle = new ScalarBackend()) {
                Tensor[] kv = copies.get(0);
                Tensor expectedOut = oracle.allocate(DType.F32, out.shape());
                oracle.pagedAttention(q, kv[0], kv[1], meta, HEADS, KV_HEADS, HEAD_DIM, expectedOut);
                float[] expected = expectedOut.toFloatArray();
                for (CpuBackend cpu : cpus) {
                    cpu.pagedAttention(q, kv[0], kv[1], meta, HEADS, KV_HEADS, HEAD_DIM, out);
                    float[] got = out.toFloatArray();
                    for (int i = 0; i < got.length; i++) {
                        if (!(Math.abs(got[i] - expected[i]) <= 1e-4f * (1 + Math.abs(expected[i])))) {
                            throw new AssertionError(cpu.name() + " differs from the scalar oracle at " + i + ": "
                                    + got[i] + " vs " + expected[i]);
                        }
                    }
                }
            }
        }
    }
}
