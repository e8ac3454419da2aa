package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
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
        return run(batch, promptTokens, steps, seed, null);
    }

    /**
     * As {@link #run(int, int, int, long)}, recording into {@code routing} (when not null) the
     * experts each timed decode step ran, for {@link #replayRegions}.
     */
    public BatchResult run(int batch, int promptTokens, int steps, long seed, RoutingLog routing) {
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
        engine.expertStage().recordRouting(routing);
        double decode;
        try {
            long t1 = System.nanoTime();
            for (int i = 0; i < steps; i++) {
                engine.step();
            }
            decode = (System.nanoTime() - t1) / 1e9;
        } finally {
            engine.expertStage().recordRouting(null);
        }
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

    /**
     * The weight reads of the batch-1 decode steps recorded in {@code routing}, in the order the
     * engine makes them: per step, per layer the attention half's weights then the experts that
     * layer routed to (w1, w3, w2), then the final norm, lm_head and one embedding row. Replayed by
     * {@link io.shuttle.kernels.cpu.MemoryBandwidth#measureReplayBytesPerSecond}, this is the
     * bandwidth ceiling of exactly that access pattern, whose working set is every expert the
     * window touched (usually the whole model), not just the bytes of one step.
     */
    public MemorySegment[] replayRegions(RoutingLog routing) {
        if (routing.size() == 0) {
            throw new IllegalArgumentException("the routing log is empty: record a decode window first");
        }
        AttentionWeights aw = engine.attentionWeights();
        ExpertWeights ew = engine.expertWeights();
        List<MemorySegment> out = new ArrayList<>();
        int previous = Integer.MAX_VALUE;
        for (int i = 0; i < routing.size(); i++) {
            int layer = routing.layer(i);
            if (layer < previous && i > 0) {
                addStepEnd(aw, out);
            }
            if (layer != previous) {
                AttentionWeights.Layer l = aw.layers().get(layer);
                for (Tensor t : new Tensor[] {l.inputNorm(), l.qProj(), l.kProj(), l.vProj(), l.oProj(),
                        l.postAttentionNorm(), l.router()}) {
                    out.add(t.data());
                }
            }
            ExpertWeights.Expert e = ew.get(layer, routing.expert(i));
            out.add(e.w1().data());
            out.add(e.w3().data());
            out.add(e.w2().data());
            previous = layer;
        }
        addStepEnd(aw, out);
        return out.toArray(MemorySegment[]::new);
    }

    private static void addStepEnd(AttentionWeights aw, List<MemorySegment> out) {
        out.add(aw.finalNorm().data());
        out.add(aw.lmHead().data());
        out.add(aw.embedTokens().rows(0, 1).data());
    }

    /** Weight bytes one batch-1 decode step reads: every attention-side weight plus top-k experts per layer. */
    public long weightBytesPerDecodeStep() {
        var c = engine.config();
        return engine.attentionWeights().bytesPerDecodeToken()
                + (long) c.numLayers() * c.topK() * engine.expertWeights().bytesPerExpert();
    }
}
