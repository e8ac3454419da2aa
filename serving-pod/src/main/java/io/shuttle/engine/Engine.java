package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.model.Checkpoint;
import io.shuttle.model.ModelConfig;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The monolithic engine: one process holding the attention stage and every expert. It
 * generates for a batch of prompts at once: each step schedules, under one token budget, the
 * next chunk of every unfinished sequence (whole or chunked prompts, then one token each),
 * runs one forward pass and samples.
 */
public final class Engine implements AutoCloseable {
    private final ModelConfig config;
    private final Backend backend;
    private final EngineOptions options;
    private final KvCache cache;
    private final ExpertStage experts;
    private final ModelRunner runner;
    private final BlockAllocator allocator;
    private final Sampler sampler;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment hostLogits;
    private final AttentionWeights attentionWeights;

    public Engine(Checkpoint checkpoint, Backend backend, EngineOptions options) {
        this.config = checkpoint.config();
        this.backend = backend;
        this.options = options;
        this.attentionWeights = AttentionWeights.load(checkpoint, backend);
        ExpertWeights expertWeights = ExpertWeights.loadAll(checkpoint, backend);
        this.cache = new KvCache(backend, config, options.kvBlocks(), options.blockSize());
        AttentionStage attention = new AttentionStage(config, attentionWeights, cache, backend);
        this.experts = new ExpertStage(config, expertWeights, backend, options.maxBatchTokens());
        this.runner = new ModelRunner(attention, experts, backend, options);
        this.allocator = new BlockAllocator(options.kvBlocks(), options.blockSize());
        this.sampler = new Sampler(config.vocabSize());
        this.hostLogits = arena.allocate((long) options.maxLogitRows() * config.vocabSize() * Float.BYTES, 64);
    }

    public ModelConfig config() {
        return config;
    }

    public AttentionWeights attentionWeights() {
        return attentionWeights;
    }

    public ExpertWeights expertWeights() {
        return experts.weights();
    }

    public BlockAllocator allocator() {
        return allocator;
    }

    public EngineOptions options() {
        return options;
    }

    ModelRunner runner() {
        return runner;
    }

    ExpertStage expertStage() {
        return experts;
    }

    Backend backend() {
        return backend;
    }

    /**
     * Generates for every prompt, all in one batch. With {@code recordStepLogits} the full logits
     * of every step are kept (memory: steps × vocab floats per prompt).
     */
    public List<GenerationResult> generate(List<int[]> prompts, SamplingParams params, boolean recordStepLogits) {
        List<Sequence> seqs = new ArrayList<>(prompts.size());
        for (int i = 0; i < prompts.size(); i++) {
            validatePrompt(i, prompts.get(i), params);
            seqs.add(new Sequence(i, prompts.get(i), params.maxTokens(), params.seed() + i));
        }
        float[][] lastLogits = new float[seqs.size()][];
        List<List<float[]>> stepLogits = new ArrayList<>();
        for (int i = 0; i < seqs.size(); i++) {
            stepLogits.add(new ArrayList<>());
        }
        StepBatchBuilder builder = new StepBatchBuilder(options.maxBatchTokens(), options.blockSize());
        List<Sequence> scheduled = new ArrayList<>();
        int[] takes = new int[seqs.size()];
        try {
            while (seqs.stream().anyMatch(s -> !s.isFinished())) {
                builder.reset();
                scheduled.clear();
                schedule(seqs, builder, scheduled, takes);
                StepBatch batch = builder.build();
                runner.forward(batch, hostLogits);
                int row = 0;
                for (Sequence s : scheduled) {
                    s.markComputed(takes[s.index]);
                    if (s.computed() < s.known()) {
                        continue; // a prefill chunk that did not reach the end: no logits yet
                    }
                    if (s.generatedCount() == 0) {
                        lastLogits[s.index] = copyRow(row);
                    }
                    if (recordStepLogits) {
                        stepLogits.get(s.index).add(copyRow(row));
                    }
                    int next = sampler.sample(hostLogits, row, params, s.random);
                    row++;
                    s.append(next);
                    finishIfDone(s, next, params);
                }
            }
        } finally {
            for (Sequence s : seqs) {
                allocator.release(s.blocks);
            }
        }
        List<GenerationResult> results = new ArrayList<>(seqs.size());
        for (Sequence s : seqs) {
            results.add(new GenerationResult(s.prompt(), s.generated(), s.finishReason(), lastLogits[s.index],
                    List.copyOf(stepLogits.get(s.index))));
        }
        return results;
    }

    /** Fills the builder with the next chunk of each unfinished sequence, in order, under the budgets. */
    private void schedule(List<Sequence> seqs, StepBatchBuilder builder, List<Sequence> scheduled, int[] takes) {
        int logitRows = 0;
        for (Sequence s : seqs) {
            if (s.isFinished() || builder.capacityLeft() == 0 || logitRows == options.maxLogitRows()) {
                continue;
            }
            int take = Math.min(s.known() - s.computed(), builder.capacityLeft());
            if (!allocator.ensureCapacity(s.blocks, s.computed() + take)) {
                break; // no room: the rest waits for blocks freed by finishing sequences
            }
            boolean wantLogits = s.computed() + take == s.known();
            builder.add(s.tokens(), s.computed(), take, s.blocks, wantLogits);
            takes[s.index] = take;
            scheduled.add(s);
            if (wantLogits) {
                logitRows++;
            }
        }
        if (scheduled.isEmpty()) {
            throw new IllegalStateException("the KV cache (" + allocator.totalBlocks() + " blocks of "
                    + allocator.blockSize() + " tokens) cannot hold even one pending sequence; "
                    + "use fewer or shorter prompts, or a larger cache");
        }
    }

    private void finishIfDone(Sequence s, int token, SamplingParams params) {
        if (!params.ignoreEos() && token == config.eosTokenId()) {
            s.finish(FinishReason.STOP);
        } else if (s.generatedCount() >= params.maxTokens() || s.known() >= options.maxModelLen()) {
            s.finish(FinishReason.LENGTH);
        }
        if (s.isFinished()) {
            allocator.release(s.blocks);
        }
    }

    private void validatePrompt(int i, int[] prompt, SamplingParams params) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("prompt " + i + " is empty; give at least one token");
        }
        for (int t : prompt) {
            if (t < 0 || t >= config.vocabSize()) {
                throw new IllegalArgumentException("prompt " + i + " has token id " + t
                        + ", outside the vocabulary 0.." + (config.vocabSize() - 1));
            }
        }
        if (prompt.length + params.maxTokens() > options.maxModelLen()) {
            throw new IllegalArgumentException("prompt " + i + " has " + prompt.length + " tokens; with "
                    + params.maxTokens() + " new tokens it exceeds the maximum sequence length "
                    + options.maxModelLen() + "; shorten the prompt or lower max tokens");
        }
    }

    private float[] copyRow(int row) {
        float[] out = new float[config.vocabSize()];
        MemorySegment.copy(hostLogits, ValueLayout.JAVA_FLOAT, (long) row * config.vocabSize() * Float.BYTES,
                out, 0, out.length);
        return out;
    }

    /** Indices of the {@code n} largest values, descending (ties to the lower index). */
    public static int[] topIndices(float[] values, int n) {
        Integer[] idx = new Integer[values.length];
        Arrays.setAll(idx, i -> i);
        Arrays.sort(idx, (a, b) -> values[a] != values[b] ? Float.compare(values[b], values[a]) : Integer.compare(a, b));
        int[] out = new int[Math.min(n, values.length)];
        for (int i = 0; i < out.length; i++) {
            out[i] = idx[i];
        }
        return out;
    }

    @Override
    public void close() {
        runner.close();
        experts.close();
        cache.close();
        arena.close();
    }
}
