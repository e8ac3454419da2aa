package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.HostBackend;
import io.shuttle.kernels.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * The attention side of the ping-pong pipeline (MegaScale-Infer §4.1). The batch is cut into m
 * micro-batches, here <em>lanes</em>: each lane has its own sequences, inputs and activations,
 * and for every layer lane i's attention runs while lane i−1 is at the experts. A step runs as
 * <pre>
 *   begin(lane i)            embed, attention(0, i) → dispatch(0, i)      (every lane)
 *   middle()                 for layer ℓ ≥ 1, for lane i:
 *                              wait for combine(ℓ−1, i); h += expert output
 *                              attention(ℓ, i) → dispatch(ℓ, i)          (returns at once)
 *   finish(lane i)           wait for combine(L−1, i); final norm, lm_head of its logit rows
 * </pre>
 * and the engine, after sampling lane i, may {@code begin} lane i's next step at once, while
 * lane i+1 is still at the experts with its last layer. So the pipeline does not drain at step
 * boundaries: the experts get lane 0's next layer 0 while they work on the last lane's last
 * layer, and each lane's lm_head and sampling overlap the other lanes' expert rounds.
 *
 * <p>Rounds reach the experts in one order, (step, layer, lane) ascending, with no gaps: the
 * expert pods serve rounds in that order. A failed step still owes the experts the rest of its
 * rounds ({@link #abandon}). With one lane and an in-process client this is the monolithic
 * engine.
 */
public final class PipelineRunner implements AutoCloseable {
    private final AttentionStage attention;
    private final ExpertClient experts;
    private final Backend backend;
    private final StepTrace trace;
    private final Lane[] lanes;
    private final int layers;
    /** The newest round handed to the experts: its step and its index layer·m + lane (−1: none yet). */
    private long lastStep = -1;
    private int lastRound = -1;

    /** One micro-batch's own inputs and activations: a lane's step may overlap another lane's next. */
    private static final class Lane {
        final BatchInputs inputs;
        final ActivationBuffers buffers;
        final Tensor expertOut;
        long step = -1;

        Lane(Backend backend, AttentionStage attention, EngineOptions options, int tokens, int logitRows) {
            inputs = new BatchInputs(backend, tokens, options.maxBlocksPerSeq(), options.blockSize());
            buffers = new ActivationBuffers(backend, attention.config(), tokens, logitRows);
            expertOut = backend.allocate(DType.F32, tokens, attention.config().hiddenSize());
        }
    }

    /**
     * @param laneTokens    token rows one lane may hold per step
     * @param laneLogitRows logits rows one lane may need per step
     */
    public PipelineRunner(AttentionStage attention, ExpertClient experts, Backend backend, EngineOptions options,
                          int lanes, int laneTokens, int laneLogitRows, StepTrace trace) {
        this.attention = attention;
        this.experts = experts;
        this.backend = backend;
        this.trace = trace;
        this.layers = attention.config().numLayers();
        this.lanes = new Lane[lanes];
        for (int i = 0; i < lanes; i++) {
            this.lanes[i] = new Lane(backend, attention, options, laneTokens, laneLogitRows);
        }
    }

    public int lanes() {
        return lanes.length;
    }

    /** Starts {@code plan}'s lane on its step: embeddings, layer 0's attention and its dispatch. */
    public void begin(StepPlan plan) {
        Lane lane = lanes[plan.lane()];
        lane.step = plan.step();
        long t0 = trace.now();
        lane.inputs.upload(plan.batch());
        int n = lane.inputs.numTokens();
        trace.step(plan.step(), plan.lane(), n);
        if (n > 0) {
            attention.embed(lane.inputs, lane.buffers);
        }
        trace.boundary(StepTrace.Boundary.INPUTS, plan.step(), plan.lane(), t0);
        attendAndDispatch(plan.step(), 0, plan.lane());
    }

    /** Layers 1 to L−1 of {@code step} for every lane, which must all have begun it. */
    public void middle(long step) {
        for (int i = 0; i < lanes.length; i++) {
            if (lanes[i].step != step) {
                throw new IllegalStateException("lane " + i + " is at step " + lanes[i].step + ", not " + step);
            }
        }
        for (int layer = 1; layer < layers; layer++) {
            for (int i = 0; i < lanes.length; i++) {
                awaitAndAdd(step, layer - 1, i);
                attendAndDispatch(step, layer, i);
            }
        }
    }

    /**
     * Waits for lane {@code i}'s last layer, then final norm and lm_head of its logit rows.
     * Returns where the logits ({@code [rows, vocab]} F32, rows = {@link #logitRows}) are: on a
     * host backend the lane's own buffer, read in place until the lane's next {@link #begin}
     * (copying them cost about 0.25 ms per 256 rows, on the step boundary every expert pod
     * waits for); on a device, {@code hostLogits} after a copy.
     */
    public MemorySegment finish(int i, MemorySegment hostLogits) {
        Lane lane = lanes[i];
        awaitAndAdd(lane.step, layers - 1, i);
        int rows = lane.inputs.numLogitRows();
        if (rows == 0) {
            return hostLogits;
        }
        long t0 = trace.now();
        attention.logits(lane.inputs, lane.buffers, 0, rows);
        trace.logits(lane.step, i, t0);
        Tensor logits = lane.buffers.logits(rows);
        if (backend instanceof HostBackend) {
            return logits.data();
        }
        backend.copyToHost(logits, hostLogits);
        return hostLogits;
    }

    /** The logit rows of lane {@code i}'s current step. */
    public int logitRows(int i) {
        return lanes[i].inputs.numLogitRows();
    }

    private void attendAndDispatch(long step, int layer, int i) {
        Lane lane = lanes[i];
        int n = lane.inputs.numTokens();
        long t0 = trace.now();
        if (n > 0) { // an empty lane still takes part in the round (an empty message)
            attention.attention(layer, lane.inputs, lane.buffers, 0, n);
        }
        trace.attention(step, layer, i, t0);
        dispatch(step, layer, i, n);
    }

    private void dispatch(long step, int layer, int i, int n) {
        int round = layer * lanes.length + i;
        boolean next = step == lastStep ? round == lastRound + 1
                : step > lastStep && round == 0 && (lastRound < 0 || lastRound == layers * lanes.length - 1);
        if (!next) {
            throw new IllegalStateException("round (step " + step + ", layer " + layer + ", micro-batch " + i
                    + ") out of order after (step " + lastStep + ", round " + lastRound + ")");
        }
        Lane lane = lanes[i];
        long t1 = trace.now();
        lastStep = step;
        lastRound = round;
        experts.dispatch(step, layer, i, lane.buffers.expertInput(0, n), lane.buffers.topkIds(0, n),
                lane.buffers.topkWeights(0, n), lane.expertOut.rows(0, n));
        trace.dispatch(step, layer, i, t1);
    }

    /**
     * After a failure: the experts serve rounds in order, so every round of the newest step not
     * yet handed to them is sent empty (failures ignored), and the healthy expert pods move on
     * instead of waiting out their round timeout. Returns that step: the next one must be newer.
     */
    public long abandon() {
        int total = layers * lanes.length;
        if (lastRound >= 0) {
            for (int r = lastRound + 1; r < total; r++) {
                int layer = r / lanes.length;
                int i = r % lanes.length;
                lastRound = r;
                try {
                    experts.dispatch(lastStep, layer, i, lanes[i].buffers.expertInput(0, 0),
                            lanes[i].buffers.topkIds(0, 0), lanes[i].buffers.topkWeights(0, 0),
                            lanes[i].expertOut.rows(0, 0));
                } catch (RuntimeException ignored) {
                    // The pod that failed the step fails these too; the others got their empty message.
                }
            }
        }
        experts.abandonRounds();
        for (Lane lane : lanes) {
            lane.step = -1;
        }
        return lastStep;
    }

    private void awaitAndAdd(long step, int layer, int i) {
        Lane lane = lanes[i];
        long t0 = trace.now();
        int n = lane.inputs.numTokens();
        boolean added = experts.awaitCombineInto(step, layer, i, lane.buffers.hidden.rows(0, n));
        trace.wait(step, layer, i, t0);
        if (n > 0 && !added) {
            attention.addExpertOutput(lane.buffers, lane.expertOut.rows(0, n), 0, n);
        }
    }

    @Override
    public void close() {
        for (Lane lane : lanes) {
            backend.release(lane.expertOut);
            lane.buffers.close();
            lane.inputs.close();
        }
    }
}
