package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * The attention side of the ping-pong pipeline (MegaScale-Infer §4.1). A step's rows are cut
 * into m micro-batches; for every layer, micro-batch i's attention runs while micro-batch i−1
 * is at the experts:
 * <pre>
 *   for layer ℓ:
 *     for micro-batch i:
 *       wait for combine(ℓ−1, i); h += expert output     (ℓ > 0)
 *       attention(ℓ, i) → dispatch(ℓ, i)                   (returns at once)
 *   for micro-batch i:
 *     wait for combine(L−1, i); final norm, lm_head of its logit rows
 * </pre>
 * so a micro-batch's lm_head runs while the next one is still at the experts; only the last
 * micro-batch's lm_head is not overlapped.
 * Micro-batches of one layer run attention in row order, so a prompt chunk split across
 * micro-batches finds its earlier positions already in the KV cache. With m = 1 and an
 * in-process client this is the monolithic engine again.
 */
public final class PipelineRunner implements StepRunner {
    private final AttentionStage attention;
    private final ExpertClient experts;
    private final Backend backend;
    private final BatchInputs inputs;
    private final ActivationBuffers buffers;
    private final Tensor expertOut;
    private final StepTrace trace;

    public PipelineRunner(AttentionStage attention, ExpertClient experts, Backend backend, EngineOptions options,
                          StepTrace trace) {
        this.attention = attention;
        this.experts = experts;
        this.backend = backend;
        this.trace = trace;
        this.inputs = new BatchInputs(backend, options.maxBatchTokens(), options.maxBlocksPerSeq(), options.blockSize());
        this.buffers = new ActivationBuffers(backend, attention.config(), options.maxBatchTokens(), options.maxLogitRows());
        this.expertOut = backend.allocate(DType.F32, options.maxBatchTokens(), attention.config().hiddenSize());
    }

    @Override
    public int forward(StepPlan plan, MemorySegment hostLogits) {
        inputs.upload(plan.batch());
        int[] bounds = plan.microBatches();
        int m = plan.numMicroBatches();
        int layers = attention.config().numLayers();
        long step = plan.step();
        trace.step(step, inputs.numTokens());
        if (inputs.numTokens() > 0) {
            attention.embed(inputs, buffers);
        }
        int dispatched = 0; // rounds of this step handed to the experts, in (layer, micro-batch) order
        try {
            for (int layer = 0; layer < layers; layer++) {
                for (int i = 0; i < m; i++) {
                    int from = bounds[i];
                    int to = bounds[i + 1];
                    if (layer > 0) {
                        awaitAndAdd(step, layer - 1, i, from, to);
                    }
                    long t0 = trace.now();
                    if (to > from) { // an empty micro-batch still takes part in the round (an empty message)
                        attention.attention(layer, inputs, buffers, from, to);
                    }
                    trace.attention(step, layer, i, t0);
                    long t1 = trace.now();
                    experts.dispatch(step, layer, i, buffers.expertInput(from, to), buffers.topkIds(from, to),
                            buffers.topkWeights(from, to), expertOut.rows(from, to));
                    trace.dispatch(step, layer, i, t1);
                    dispatched++;
                }
            }
            int[] logitRows = plan.batch().logitRows();
            for (int i = 0; i < m; i++) {
                awaitAndAdd(step, layers - 1, i, bounds[i], bounds[i + 1]);
                long t0 = trace.now();
                attention.logits(inputs, buffers, firstAtOrAfter(logitRows, bounds[i]),
                        firstAtOrAfter(logitRows, bounds[i + 1]));
                trace.logits(step, i, t0);
            }
        } catch (RuntimeException e) {
            abandon(step, dispatched, layers, m);
            throw e;
        }
        int rows = inputs.numLogitRows();
        if (rows > 0) {
            backend.copyToHost(buffers.logits(rows), hostLogits);
        }
        return rows;
    }

    /**
     * A failed step still owes the experts its remaining rounds: they serve rounds in order, so
     * the rest are sent empty (failures ignored) and the healthy expert pods move on to the next
     * step instead of waiting out their round timeout.
     */
    private void abandon(long step, int dispatched, int layers, int m) {
        Tensor noX = buffers.expertInput(0, 0);
        for (int r = dispatched; r < layers * m; r++) {
            try {
                experts.dispatch(step, r / m, r % m, noX, buffers.topkIds(0, 0), buffers.topkWeights(0, 0),
                        expertOut.rows(0, 0));
            } catch (RuntimeException ignored) {
                // The pod that failed the step fails these too; the others got their empty message.
            }
        }
    }

    /** Index of the first of the ascending token rows at or after {@code row}. */
    private static int firstAtOrAfter(int[] ascendingRows, int row) {
        int lo = 0;
        int hi = ascendingRows.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (ascendingRows[mid] < row) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private void awaitAndAdd(long step, int layer, int microBatch, int from, int to) {
        long t0 = trace.now();
        experts.awaitCombine(step, layer, microBatch);
        trace.wait(step, layer, microBatch, t0);
        if (to > from) {
            attention.addExpertOutput(buffers, expertOut.rows(from, to), from, to);
        }
    }

    @Override
    public void close() {
        backend.release(expertOut);
        buffers.close();
        inputs.close();
    }
}
