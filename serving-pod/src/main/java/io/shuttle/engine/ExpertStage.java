package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import io.shuttle.model.ModelConfig;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The expert half of every Mixtral layer, as run by an expert pod over the experts it holds.
 * For rows x with their top-k expert ids and routing weights:
 * <pre>
 *   for each held expert e, over the rows routed to e (grouped, one GEMM per expert):
 *       out[row] += w(row, e) · w2_e( silu(w1_e · x[row]) ⊙ (w3_e · x[row]) )
 * </pre>
 * Rows routed to experts this stage does not hold, and id slots of -1 (what a dispatch uses
 * for "this slot is served by another pod"), contribute nothing here: their share is computed
 * on another expert pod and summed on the attention side. Grouping happens on the
 * host from the (small) id and weight tensors; the math stays on the backend.
 */
public final class ExpertStage implements AutoCloseable {
    private final ModelConfig config;
    private final ExpertWeights weights;
    private final Backend backend;
    private final int maxTokens;

    // Scratch for one call, sized for maxTokens rows.
    private final Arena arena = Arena.ofShared();
    private final MemorySegment hostIds;
    private final MemorySegment hostWeights;
    private final MemorySegment hostStaging;
    private final int[] counts;
    private final int[] offsets;
    private final int[] groupedRows;
    private final float[] groupedScales;
    private final Tensor rowIndex;   // I32 [T·k] rows grouped by expert
    private final Tensor rowScale;   // F32 [T·k] matching routing weights
    private final Tensor gathered;   // [T, hidden]
    private final Tensor gate;       // [T, intermediate]
    private final Tensor up;         // [T, intermediate]
    private final Tensor down;       // [T·k, hidden] every expert's outputs, grouped like rowIndex

    public ExpertStage(ModelConfig config, ExpertWeights weights, Backend backend, int maxTokens) {
        this.config = config;
        this.weights = weights;
        this.backend = backend;
        this.maxTokens = maxTokens;
        int k = config.topK();
        long routed = (long) maxTokens * k;
        hostIds = arena.allocate(routed * Integer.BYTES, 64);
        hostWeights = arena.allocate(routed * Float.BYTES, 64);
        hostStaging = arena.allocate(routed * Integer.BYTES, 64);
        counts = new int[config.numExperts()];
        offsets = new int[config.numExperts() + 1];
        groupedRows = new int[(int) routed];
        groupedScales = new float[(int) routed];
        rowIndex = backend.allocate(DType.I32, routed);
        rowScale = backend.allocate(DType.F32, routed);
        gathered = backend.allocate(DType.F32, maxTokens, config.hiddenSize());
        gate = backend.allocate(DType.F32, maxTokens, config.intermediateSize());
        up = backend.allocate(DType.F32, maxTokens, config.intermediateSize());
        down = backend.allocate(DType.F32, routed, config.hiddenSize());
    }

    /** Null unless a benchmark records which experts ran. */
    private RoutingLog routingLog;

    /** Records every (layer, expert) this stage runs from now on into {@code log}; null stops recording. */
    public void recordRouting(RoutingLog log) {
        this.routingLog = log;
    }

    public ExpertWeights weights() {
        return weights;
    }

    /**
     * out = Σ over held experts of the weighted expert outputs, for every row of x.
     *
     * @param layer   which layer's experts
     * @param x       [n, hidden] F32, the post-attention-norm rows
     * @param ids     [n, topK] I32 expert ids of each row
     * @param scales  [n, topK] F32 routing weights of each row
     * @param out     [n, hidden] F32, overwritten
     */
    public void forward(int layer, Tensor x, Tensor ids, Tensor scales, Tensor out) {
        forward(layer, x, ids, scales, out, false);
    }

    /**
     * {@link #forward(int, Tensor, Tensor, Tensor, Tensor)}, running the experts' GEMMs in
     * descending expert order when {@code descending}. An expert pod serves a layer's
     * micro-batches back to back, and a layer's experts (6.3 MB in the pipeline benchmark's
     * model) do not fit in a core's L2 (2 MB here); walking every other micro-batch backwards
     * starts it on the experts the previous one read last, still in cache. The result does not
     * depend on the order, bit for bit: every expert's output is kept and the weighted sums are
     * added in ascending expert order afterwards.
     */
    public void forward(int layer, Tensor x, Tensor ids, Tensor scales, Tensor out, boolean descending) {
        int n = (int) x.dim(0);
        if (n > maxTokens) {
            throw new IllegalArgumentException("expert batch of " + n + " rows exceeds the " + maxTokens + "-row buffers");
        }
        backend.zero(out);
        if (n == 0) {
            return;
        }
        int routed = groupByExpert(ids, scales, n);
        if (routed == 0) {
            return;
        }
        MemorySegment.copy(groupedRows, 0, hostStaging, ValueLayout.JAVA_INT, 0, routed);
        backend.copyFromHost(hostStaging, rowIndex.rows(0, routed));
        MemorySegment.copy(groupedScales, 0, hostStaging, ValueLayout.JAVA_FLOAT, 0, routed);
        backend.copyFromHost(hostStaging, rowScale.rows(0, routed));

        int experts = counts.length;
        for (int i = 0; i < experts; i++) {
            int e = descending ? experts - 1 - i : i;
            int count = offsets[e + 1] - offsets[e];
            if (count == 0) {
                continue;
            }
            ExpertWeights.Expert w = weights.get(layer, e);
            if (routingLog != null) {
                routingLog.record(layer, e);
            }
            Tensor g = gathered.rows(0, count);
            Tensor a = gate.rows(0, count);
            Tensor b = up.rows(0, count);
            // SwiGLU over this expert's rows: w2(silu(w1 x) ⊙ w3 x).
            backend.gatherRows(x, rowIndex.rows(offsets[e], offsets[e + 1]), g);
            backend.matmulMany(g, new Tensor[] {w.w1(), w.w3()}, new Tensor[] {a, b});
            backend.siluMul(a, b, a);
            backend.matmul(a, w.w2(), down.rows(offsets[e], offsets[e + 1]));
        }
        // Weighted scatter-add in ascending expert order whatever the order above: a row's sum
        // of its top-k contributions is then the same in every micro-batch and every pod.
        for (int e = 0; e < experts; e++) {
            if (offsets[e + 1] > offsets[e]) {
                backend.scatterAddRows(down.rows(offsets[e], offsets[e + 1]), rowIndex.rows(offsets[e], offsets[e + 1]),
                        rowScale.rows(offsets[e], offsets[e + 1]), out);
            }
        }
    }

    /** Counting sort of (row, weight) pairs by expert, keeping only held experts. Returns pairs kept. */
    private int groupByExpert(Tensor ids, Tensor scales, int n) {
        int k = config.topK();
        int pairs = n * k;
        backend.copyToHost(ids, hostIds);
        backend.copyToHost(scales, hostWeights);
        java.util.Arrays.fill(counts, 0);
        for (int i = 0; i < pairs; i++) {
            int e = hostIds.getAtIndex(ValueLayout.JAVA_INT, i);
            if (e == -1) {
                continue;
            }
            if (e < 0 || e >= counts.length) {
                throw new IllegalArgumentException("row " + (i / k) + " is routed to expert " + e
                        + ", but the model has " + counts.length + " experts");
            }
            if (weights.holds(e)) {
                counts[e]++;
            }
        }
        offsets[0] = 0;
        for (int e = 0; e < counts.length; e++) {
            offsets[e + 1] = offsets[e] + counts[e];
        }
        int[] cursor = counts; // reuse: counts becomes the write cursor per expert
        for (int e = 0; e < counts.length; e++) {
            cursor[e] = offsets[e];
        }
        for (int i = 0; i < pairs; i++) {
            int e = hostIds.getAtIndex(ValueLayout.JAVA_INT, i);
            if (weights.holds(e)) {
                int at = cursor[e]++;
                groupedRows[at] = i / k;
                groupedScales[at] = hostWeights.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            }
        }
        return offsets[counts.length];
    }

    @Override
    public void close() {
        for (Tensor t : new Tensor[] {rowIndex, rowScale, gathered, gate, up, down}) {
            backend.release(t);
        }
        arena.close();
    }
}
