package io.shuttle.serve;

import io.shuttle.engine.EngineLoop;
import io.shuttle.engine.EngineOptions;
import io.shuttle.engine.GenerationResult;
import io.shuttle.engine.PipelineStats;
import io.shuttle.engine.SamplingParams;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongSupplier;

/**
 * Runs synthetic batches through an attention pod's whole pipeline before it reports ready, as
 * vLLM runs a profiling pass before it serves: the kernels here are Vector API code, which the
 * JVM runs many times slower until C2 has compiled it, so a freshly started pod served its first
 * requests 1.2–20× slower for 30–50 s (docs/BENCHMARKS.md). The batches go through the engine
 * loop like any request (prefill chunks mixed with decode at the pod's full batch width, the
 * M2N rounds, the expert pods' compute and combine), so they warm every part a request uses,
 * the expert pods included.
 *
 * <p>It ends when the last three batches took the same time within 10 % and this JVM's JIT
 * spent under 1 % of the last batch compiling, or at the time limit, or at the first batch that
 * fails (expert pods unreachable: readiness then waits for them as before, and the pod serves
 * cold rather than not at all). It never holds readiness back longer than the limit.
 */
public final class PodWarmup {
    private static final Logger LOG = System.getLogger(PodWarmup.class.getName());

    /** Tokens each warm-up sequence generates: enough decode steps per batch to time them. */
    static final int DECODE_TOKENS = 16;
    /** Batches in a row whose times must agree for the warm-up to count as settled. */
    static final int STABLE_BATCHES = 3;
    static final double STABLE_WITHIN = 0.10;
    static final double JIT_QUIET_SHARE = 0.01;

    /** How a warm-up ended, for the log and the pod's health document. */
    public enum Outcome { RUNNING, SETTLED, TIME_LIMIT, FAILED, SKIPPED }

    /** The shape of one warm-up batch: {@code sequences} prompts of {@code promptTokens} tokens. */
    record Shape(int sequences, int promptTokens, int decodeTokens) {
    }

    private final EngineLoop loop;
    private final Shape shape;
    private final int vocabSize;
    private final Duration limit;
    private final LongSupplier lastRoundNanos;
    private final LongSupplier jitMillis;
    private final CompletableFuture<Outcome> done = new CompletableFuture<>();
    private volatile Outcome outcome = Outcome.RUNNING;
    private volatile int batches;
    private volatile double seconds;

    /**
     * @param lastRoundNanos when a round last came back from every expert pod (0: none yet); the
     *                       warm-up waits for the first within its limit
     * @param jitMillis      this JVM's total JIT compile time in ms (negative: unknown)
     */
    PodWarmup(EngineLoop loop, EngineOptions options, int vocabSize, Duration limit, LongSupplier lastRoundNanos,
              LongSupplier jitMillis) {
        this.loop = loop;
        this.shape = shape(options, vocabSize);
        this.vocabSize = vocabSize;
        this.limit = limit;
        this.lastRoundNanos = lastRoundNanos;
        this.jitMillis = jitMillis;
    }

    public PodWarmup(EngineLoop loop, EngineOptions options, int vocabSize, Duration limit, LongSupplier lastRoundNanos) {
        this(loop, options, vocabSize, limit, lastRoundNanos, PipelineStats::jitCompileMillis);
    }

    /**
     * The batch: as many sequences as run at once (the width decode steps have under load), each
     * prompt long enough that together they fill at least one whole prefill chunk, within the KV
     * cache (half of it at most: fewer sequences where it is small) and the longest sequence allowed.
     */
    static Shape shape(EngineOptions o, int vocabSize) {
        int decode = Math.max(1, Math.min(DECODE_TOKENS, o.maxModelLen() / 2));
        int prompt = Math.max(1, Math.min(o.maxModelLen() - decode, Math.max(8, o.maxBatchTokens() / o.maxLogitRows() + 1)));
        int blocksPerSeq = (prompt + decode + o.blockSize() - 1) / o.blockSize();
        int sequences = Math.max(1, Math.min(o.maxLogitRows(), o.kvBlocks() / 2 / blocksPerSeq));
        return new Shape(sequences, prompt, decode);
    }

    /** Starts warming on its own thread; {@link #done()} completes when it ends. */
    public PodWarmup start() {
        if (limit.isZero() || limit.isNegative()) {
            outcome = Outcome.SKIPPED;
            done.complete(outcome);
            return this;
        }
        Thread t = new Thread(() -> {
            Outcome o;
            try {
                o = run();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "warm-up failed; the pod serves without it: " + e.getMessage());
                o = Outcome.FAILED;
            }
            outcome = o;
            done.complete(o);
        }, "warm-up");
        t.setDaemon(true);
        t.start();
        return this;
    }

    /** Completes with the outcome when the warm-up has ended. */
    public CompletableFuture<Outcome> done() {
        return done;
    }

    /** Whether the warm-up has ended (whatever its outcome): readiness waits for it. */
    public boolean finished() {
        return done.isDone();
    }

    public Outcome outcome() {
        return outcome;
    }

    public int batches() {
        return batches;
    }

    public double seconds() {
        return seconds;
    }

    private Outcome run() {
        long start = System.nanoTime();
        long deadline = start + limit.toNanos();
        // Rounds first: without the expert pods a batch could only fail.
        while (lastRoundNanos.getAsLong() == 0) {
            if (System.nanoTime() > deadline) {
                return finish(Outcome.TIME_LIMIT, start, 0, "no round came back from the expert pods within the limit");
            }
            sleep(20);
        }
        Random random = new Random(42);
        double[] last = new double[STABLE_BATCHES];
        double first = 0;
        long jit = jitMillis.getAsLong();
        for (int n = 0; ; n++) {
            long t0 = System.nanoTime();
            String failure = runBatch(random, deadline);
            if (failure != null) {
                String why = !failure.isEmpty() ? failure : n == 0
                        ? String.format(Locale.ROOT, "the first batch had not finished after %.1f s (a starved or very"
                                + " slow core); it was cancelled, and what the JIT compiled meanwhile is kept",
                                (System.nanoTime() - t0) / 1e9)
                        : "the time limit ended a batch; it was cancelled";
                return finish(failure.isEmpty() ? Outcome.TIME_LIMIT : Outcome.FAILED, start, first, why);
            }
            double took = System.nanoTime() - t0;
            batches = n + 1;
            first = n == 0 ? took : first;
            last[n % STABLE_BATCHES] = took;
            long jitNow = jitMillis.getAsLong();
            long compiledMillis = jit < 0 ? 0 : jitNow - jit;
            boolean jitQuiet = compiledMillis * 1e6 <= JIT_QUIET_SHARE * took;
            jit = jitNow;
            double min = Double.MAX_VALUE;
            double max = 0;
            for (double v : last) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            if (n >= STABLE_BATCHES - 1 && max <= (1 + STABLE_WITHIN) * min && jitQuiet) {
                return finish(Outcome.SETTLED, start, first, String.format(Locale.ROOT,
                        "last %d batches %.0f–%.0f ms, JIT quiet", STABLE_BATCHES, min / 1e6, max / 1e6));
            }
            if (System.nanoTime() > deadline) {
                return finish(Outcome.TIME_LIMIT, start, first, String.format(Locale.ROOT,
                        "last batch %.0f ms; times still varied or the JIT still compiled (%d ms in the last batch)",
                        took / 1e6, compiledMillis));
            }
        }
    }

    /** One batch through the pipeline: null when it completed, "" when the time limit cut it off, else why it failed. */
    private String runBatch(Random random, long deadline) {
        List<int[]> prompts = new ArrayList<>(shape.sequences());
        List<SamplingParams> params = new ArrayList<>(shape.sequences());
        for (int s = 0; s < shape.sequences(); s++) {
            int[] ids = new int[shape.promptTokens()];
            for (int i = 0; i < ids.length; i++) {
                // Past the first few ids: tokenizers put their special tokens there.
                ids[i] = vocabSize > 16 ? 8 + random.nextInt(vocabSize - 8) : random.nextInt(vocabSize);
            }
            prompts.add(ids);
            params.add(SamplingParams.greedy(shape.decodeTokens(), true));
        }
        List<CompletableFuture<GenerationResult>> results;
        try {
            results = loop.submitAll(prompts, params, false);
        } catch (RuntimeException e) {
            return "the engine refused the batch: " + e.getMessage();
        }
        CompletableFuture<Void> all = CompletableFuture.allOf(results.toArray(CompletableFuture[]::new));
        try {
            // A batch started before the deadline may finish after it, by a bounded amount.
            all.get(Math.max(1, (deadline - System.nanoTime()) / 1_000_000) + 5_000, TimeUnit.MILLISECONDS);
            return null;
        } catch (TimeoutException e) {
            results.forEach(r -> r.cancel(true)); // frees their batch slots and KV blocks at the next step
            return "";
        } catch (ExecutionException e) {
            results.forEach(r -> r.cancel(true));
            return "a warm-up request failed: " + e.getCause().getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            results.forEach(r -> r.cancel(true));
            return "interrupted";
        }
    }

    private Outcome finish(Outcome o, long start, double firstNanos, String detail) {
        seconds = (System.nanoTime() - start) / 1e9;
        LOG.log(o == Outcome.SETTLED ? Level.INFO : Level.WARNING, String.format(Locale.ROOT,
                "warm-up %s after %.1f s and %d batches of %d sequences × (%d prompt + %d generated) tokens%s: %s",
                o.name().toLowerCase(Locale.ROOT).replace('_', ' '), seconds, batches, shape.sequences(),
                shape.promptTokens(), shape.decodeTokens(),
                batches == 0 ? "" : String.format(Locale.ROOT, " (first batch %.0f ms)", firstNanos / 1e6), detail));
        return o;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
        }
    }
}
