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
 * the expert GEMM's rate. It drives the same {@link ModelRunner} path as generation (batched
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
        List<Sequence> seqs = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            int[] prompt = random.ints(promptTokens, 3, vocab).toArray();
            seqs.add(new Sequence(i, prompt, steps + 1, seed + i));
        }
        BlockAllocator allocator = engine.allocator();
        Sampler sampler = new Sampler(vocab);
        StepBatchBuilder builder = new StepBatchBuilder(o.maxBatchTokens(), o.blockSize());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment logits = arena.allocate((long) o.maxLogitRows() * vocab * Float.BYTES, 64);
            long t0 = System.nanoTime();
            // Prefill, in as many passes as the token budget needs.
            int[] done = new int[batch];
            for (boolean more = true; more; ) {
                builder.reset();
                more = false;
                for (Sequence s : seqs) {
                    int take = Math.min(promptTokens - done[s.index], builder.capacityLeft());
                    if (take == 0) {
                        more |= done[s.index] < promptTokens;
                        continue;
                    }
                    reserve(allocator, s, done[s.index] + take + steps + 1);
                    builder.add(s.tokens(), done[s.index], take, s.blocks, done[s.index] + take == promptTokens);
                    done[s.index] += take;
                }
                int rows = engine.runner().forward(builder.build(), logits);
                appendGreedy(seqs, sampler, logits, rows, done, promptTokens);
            }
            double prefill = (System.nanoTime() - t0) / 1e9;
            decodeStep(seqs, builder, sampler, logits); // warm-up
            long t1 = System.nanoTime();
            for (int i = 0; i < steps; i++) {
                decodeStep(seqs, builder, sampler, logits);
            }
            double decode = (System.nanoTime() - t1) / 1e9;
            return new BatchResult(batch, promptTokens, steps, prefill, decode);
        } finally {
            for (Sequence s : seqs) {
                allocator.release(s.blocks);
            }
        }
    }

    private static void reserve(BlockAllocator allocator, Sequence s, int tokens) {
        if (!allocator.ensureCapacity(s.blocks, tokens)) {
            throw new IllegalStateException("KV cache too small for the benchmark batch; lower --batch or --tokens");
        }
    }

    private static void appendGreedy(List<Sequence> seqs, Sampler sampler, MemorySegment logits, int rows,
                                     int[] done, int promptTokens) {
        int row = 0;
        for (Sequence s : seqs) {
            if (row < rows && done[s.index] == promptTokens && s.generatedCount() == 0) {
                s.markComputed(promptTokens);
                s.append(sampler.argmax(logits, row++));
            }
        }
    }

    private void decodeStep(List<Sequence> seqs, StepBatchBuilder builder, Sampler sampler, MemorySegment logits) {
        builder.reset();
        for (Sequence s : seqs) {
            builder.add(s.tokens(), s.computed(), 1, s.blocks, true);
        }
        engine.runner().forward(builder.build(), logits);
        int row = 0;
        for (Sequence s : seqs) {
            s.markComputed(1);
            s.append(sampler.argmax(logits, row++));
        }
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
