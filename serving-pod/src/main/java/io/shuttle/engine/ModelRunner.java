package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * Runs a whole forward pass in one process: the attention stage and an expert stage holding
 * every expert, layer after layer. This is the monolithic engine against which the
 * disaggregated pipeline is checked; the split between the two stages is the same one that
 * later crosses processes.
 */
public final class ModelRunner implements StepRunner {
    private final AttentionStage attention;
    private final ExpertStage experts;
    private final Backend backend;
    private final BatchInputs inputs;
    private final ActivationBuffers buffers;
    private final Tensor expertOut;

    public ModelRunner(AttentionStage attention, ExpertStage experts, Backend backend, EngineOptions options) {
        this.attention = attention;
        this.experts = experts;
        this.backend = backend;
        this.inputs = new BatchInputs(backend, options.maxBatchTokens(), options.maxBlocksPerSeq(), options.blockSize());
        this.buffers = new ActivationBuffers(backend, attention.config(), options.maxBatchTokens(), options.maxLogitRows());
        this.expertOut = backend.allocate(io.shuttle.kernels.DType.F32, options.maxBatchTokens(),
                attention.config().hiddenSize());
    }

    @Override
    public int forward(StepPlan plan, MemorySegment hostLogits) {
        StepBatch batch = plan.batch();
        inputs.upload(batch);
        int n = batch.numTokens();
        attention.embed(inputs, buffers);
        for (int layer = 0; layer < attention.config().numLayers(); layer++) {
            attention.attention(layer, inputs, buffers, 0, n);
            Tensor out = expertOut.rows(0, n);
            experts.forward(layer, buffers.expertInput(0, n), buffers.topkIds(0, n), buffers.topkWeights(0, n), out);
            attention.addExpertOutput(buffers, out, 0, n);
        }
        int rows = inputs.numLogitRows();
        if (rows > 0) {
            backend.copyToHost(attention.logits(inputs, buffers), hostLogits);
        }
        return rows;
    }

    @Override
    public void close() {
        backend.release(expertOut);
        buffers.close();
        inputs.close();
    }
}
