package io.shuttle.kernels.cpu;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;
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
 * n = 1, 8, 32 decode rows (each its own sequence) at context 128, 512, 2048. Old kernel
 * ({@link PagedAttentionBaseline}) and the current one ({@link CpuBackend#pagedAttention}) are
 * timed in interleaved rounds at 1 and 2 threads so that all variants see the same machine load;
 * the report is µs per call, effective GB/s of K/V read, and the old/new time ratio. Each call
 * reads a different copy of the cache (together at least {@code perf.kvmb} MB, default 16, above
 * L2) so that K/V come from L3 or memory as they do between layers of a real decode step.
 * {@code perf.n} and {@code perf.ctx} (comma-separated) select the cases, {@code perf.rounds}
 * the number of interleaved rounds (default 3).
 */
@Tag("perf")
class AttentionPerfTest {

    private static final int HEADS = 8;
    private static final int KV_HEADS = 4;
    private static final int HEAD_DIM = 64;
    private static final int BLOCK = 16;
    private static final long PARALLEL_THRESHOLD = 1 << 15;
    private static final ThreadMXBean THREAD_CPU = ManagementFactory.getThreadMXBean();

    @Test
    void report() {
        int rounds = Integer.getInteger("perf.rounds", 3);
        long footprint = Long.getLong("perf.kvmb", 16L) << 20;
        int[] threads = {1, 2};
        CpuBackend[] cpus = {new CpuBackend(1), new CpuBackend(2)};
        WorkerPool[] pools = {new WorkerPool(1, "old-attn-"), new WorkerPool(2, "old-attn-")};
        PagedAttentionBaseline[] olds = {new PagedAttentionBaseline(1), new PagedAttentionBaseline(2)};
        try {
            System.out.printf("decode attention, %d heads / %d KV heads x %d, block %d, %s%n", HEADS, KV_HEADS,
                    HEAD_DIM, BLOCK, Simd.F);
            warmUp(cpus, olds, pools, footprint);
            for (int n : intList("perf.n", "1,8,32")) {
                for (int ctx : intList("perf.ctx", "128,512,2048")) {
                    Case c = new Case(cpus[0], n, ctx, footprint);
                    double[][] best = new double[4][];
                    for (int r = 0; r < rounds; r++) {
                        for (int t = 0; t < threads.length; t++) {
                            int ti = t;
                            best[2 * t] = min(best[2 * t], c.time(() -> c.runOld(olds[ti], pools[ti])));
                            best[2 * t + 1] = min(best[2 * t + 1], c.time(() -> c.runNew(cpus[ti])));
                        }
                    }
                    StringBuilder line = new StringBuilder(String.format("n=%2d ctx=%4d (%5.0f KB K/V):", n, ctx,
                            c.kvBytes / 1024.0));
                    for (int t = 0; t < threads.length; t++) {
                        double old = best[2 * t][1];
                        double now = best[2 * t + 1][1];
                        line.append(String.format("  %dT old %7.1f us %5.1f GB/s | new %7.1f us %5.1f GB/s | x%.1f"
                                        + " (fastest calls x%.1f%s)", threads[t], old * 1e6, c.kvBytes / old / 1e9,
                                now * 1e6, c.kvBytes / now / 1e9, old / now, best[2 * t][0] / best[2 * t + 1][0],
                                t == 0 ? String.format(", CPU time %.1f / %.1f us x%.1f", best[0][2] * 1e6,
                                        best[1][2] * 1e6, best[0][2] / best[1][2]) : ""));
                    }
                    System.out.println(line);
                    c.check(cpus, olds, pools);
                    c.release(cpus[0]);
                }
            }
            System.out.println("(median of each round's calls, best round; x = old time / new time; the ratio of the"
                    + " fastest single calls is less disturbed by other load on a shared machine)");
        } finally {
            for (CpuBackend cpu : cpus) {
                cpu.close();
            }
            for (WorkerPool p : pools) {
                p.close();
            }
        }
    }

    /** Gets both kernels compiled by C2 before anything is timed (the first case would otherwise time the JIT). */
    private static void warmUp(CpuBackend[] cpus, PagedAttentionBaseline[] olds, WorkerPool[] pools, long footprint) {
        Case c = new Case(cpus[0], 4, 200, footprint);
        long end = System.nanoTime() + 1_500_000_000L;
        while (System.nanoTime() < end) {
            for (int t = 0; t < cpus.length; t++) {
                c.runOld(olds[t], pools[t]);
                c.runNew(cpus[t]);
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

        void runOld(PagedAttentionBaseline old, WorkerPool pool) {
            Tensor[] kv = nextCopy();
            long work = old.prepare(q, kv[0], kv[1], meta, HEADS, KV_HEADS, HEAD_DIM, out);
            if (work < PARALLEL_THRESHOLD) {
                old.run(0, 1);
            } else {
                pool.run(old);
            }
        }

        void runNew(CpuBackend cpu) {
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

        /** Old and new must agree (the parity tests check both against the oracle; this guards the timing). */
        void check(CpuBackend[] cpus, PagedAttentionBaseline[] olds, WorkerPool[] pools) {
            next = 0;
            runOld(olds[0], pools[0]);
            float[] expected = out.toFloatArray();
            for (CpuBackend cpu : cpus) {
                next = 0;
                runNew(cpu);
                float[] got = out.toFloatArray();
                for (int i = 0; i < got.length; i++) {
                    if (!(Math.abs(got[i] - expected[i]) <= 1e-5f * (1 + Math.abs(expected[i])))) {
                        throw new AssertionError("new kernel on " + cpu.name() + " differs from the old one at " + i
                                + ": " + got[i] + " vs " + expected[i]);
                    }
                }
            }
        }
    }
}
