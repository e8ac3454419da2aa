package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;

/**
 * Measures an engine on synthetic prompts: prefill and decode throughput per batch size, and
 * the expert GEMM's rate. It drives the same {@link Engine#step()} path as generation (batched
 * forward, paged KV cache, greedy sampling), without the tokenizer.
 */
public final class EngineBench {
    private final Engine engine;

    public EngineBench(Engine engine) {
        this.engine = engine;
    }

    /**
     * Decode and prefill rates of one batch size.
     *
     * @param batch              sequences
     * @param promptTokens       prompt length of each
     * @param decodeSteps        decode steps timed (after one untimed warm-up step)
     * @param prefillSeconds     wall time of the prefill
     * @param decodeSeconds      wall time of the timed decode steps
     */
    public record BatchResult(int batch, int promptTokens, int decodeSteps, double prefillSeconds, double decodeSeconds) {
        public double prefillTokensPerSecond() {
            return batch * (double) promptTokens / prefillSeconds;
        }

        public double decodeTokensPerSecond() {
            return batch * (double) decodeSteps / decodeSeconds;
        }

        public double decodeStepsPerSecond() {
            return decodeSteps / decodeSeconds;
        }
    }

    /** Runs prefill of {@code batch} random prompts, one warm-up decode step, then {@code steps} timed steps. */
    public BatchResult run(int batch, int promptTokens, int steps, long seed) {
        EngineOptions o = engine.options();
        if (promptTokens + steps + 1 > o.maxModelLen()) {
            throw new IllegalArgumentException("prompt (" + promptTokens + ") + steps (" + steps
                    + ") exceed the maximum sequence length " + o.maxModelLen());
        }
        if (batch > o.maxLogitRows()) {
            throw new IllegalArgumentException("batch " + batch + " exceeds the engine's " + o.maxLogitRows()
                    + " sequences per step");
        }
        int vocab = engine.config().vocabSize();
        SplittableRandom random = new SplittableRandom(seed);
        int[] generated = new int[1];
        RequestListener counter = new RequestListener() {
            @Override
            public void onToken(int token) {
                generated[0]++;
            }

            @Override
            public void onFinish(FinishReason reason) {
            }

            @Override
            public void onError(Exception error) {
                throw new IllegalStateException("benchmark request failed: " + error.getMessage(), error);
            }
        };
        Scheduler scheduler = engine.scheduler();
        for (int i = 0; i < batch; i++) {
            int[] prompt = random.ints(promptTokens, 3, vocab).toArray();
            scheduler.submit(new Request("bench-" + i, prompt,
                    new SamplingParams(0f, 1f, 0, seed + i, steps + 2, true), counter));
        }
        // Prefill: until every sequence has its first token (several passes if the budget is small).
        long t0 = System.nanoTime();
        while (generated[0] < batch) {
            engine.step();
        }
        double prefill = (System.nanoTime() - t0) / 1e9;
        engine.step(); // warm-up decode step
        long t1 = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            engine.step();
        }
        double decode = (System.nanoTime() - t1) / 1e9;
        while (scheduler.hasWork()) {
            engine.step(); // the last token, so the KV blocks are returned
        }
        if (generated[0] != batch * (steps + 2)) {
            throw new IllegalStateException("benchmark generated " + generated[0] + " tokens, expected "
                    + batch * (steps + 2) + ": the batch did not run as one");
        }
        return new BatchResult(batch, promptTokens, steps, prefill, decode);
    }

    /**
     * GFLOP/s of the expert FFN over {@code tokens} rows: every row routed to experts 0..k-1 of
     * layer 0, so each of the k experts runs a [tokens × hidden] SwiGLU (three GEMMs).
     */
    public double expertGemmGflops(int tokens, int repeats, long seed) {
        var c = engine.config();
        Backend backend = engine.backend();
        ExpertStage stage = engine.expertStage();
        int k = c.topK();
        Tensor x = backend.allocate(DType.F32, tokens, c.hiddenSize());
        Tensor ids = backend.allocate(DType.I32, tokens, k);
        Tensor w = backend.allocate(DType.F32, tokens, k);
        Tensor out = backend.allocate(DType.F32, tokens, c.hiddenSize());
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom random = new SplittableRandom(seed);
            Tensor hx = Tensor.allocate(arena, DType.F32, tokens, c.hiddenSize());
            for (long i = 0; i < hx.numel(); i++) {
                hx.setFloat(i, (float) random.nextGaussian());
            }
            Tensor hids = Tensor.allocate(arena, DType.I32, tokens, k);
            Tensor hw = Tensor.allocate(arena, DType.F32, tokens, k);
            for (int t = 0; t < tokens; t++) {
                for (int j = 0; j < k; j++) {
                    hids.setInt((long) t * k + j, j);
                    hw.setFloat((long) t * k + j, 1f / k);
                }
            }
            backend.copyFromHost(hx.data(), x);
            backend.copyFromHost(hids.data(), ids);
            backend.copyFromHost(hw.data(), w);
            stage.forward(0, x, ids, w, out); // warm-up
            double best = Double.MAX_VALUE;
            for (int r = 0; r < repeats; r++) {
                long t0 = System.nanoTime();
                stage.forward(0, x, ids, w, out);
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
            double flops = 2.0 * tokens * k * 3.0 * c.hiddenSize() * c.intermediateSize();
            return flops / best / 1e9;
        } finally {
            for (Tensor t : new Tensor[] {x, ids, w, out}) {
                backend.release(t);
            }
        }
    }

    /** Weight bytes one batch-1 decode step reads: every attention-side weight plus top-k experts per layer. */
    public long weightBytesPerDecodeStep() {
        var c = engine.config();
        return engine.attentionWeights().bytesPerDecodeToken()
                + (long) c.numLayers() * c.topK() * engine.expertWeights().bytesPerExpert();
    }
}
