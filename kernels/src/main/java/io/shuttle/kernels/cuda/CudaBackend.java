package io.shuttle.kernels.cuda;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.Checks;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.JCudaDriver;

import java.lang.foreign.MemorySegment;

/**
 * The {@link Backend} on an NVIDIA GPU through the CUDA driver API (JCuda). Tensors are device
 * memory ({@link Tensor#isDevice()}); weights are uploaded once by {@link #prepareWeight}; every
 * operation is a kernel (or a copy) on one stream, so operations run in call order and
 * {@link #copyToHost} — which waits for the stream — sees all earlier results, as the Backend
 * contract requires, without a host synchronisation after each operation.
 *
 * <p>Every driver call is checked ({@link CudaException} names the call and the CUresult). Shapes
 * and dtypes are checked at the call with the shared {@link Checks} messages; index values (ids,
 * slots, block tables) are checked by the kernels, which skip a bad index and report it, and the
 * report is thrown as {@link IllegalArgumentException} at the next synchronisation — or at the
 * call itself with {@link Options#checkEveryLaunch()}, which synchronises after every operation
 * (tests, debugging).
 *
 * <p>Beyond the interface: {@link #addRmsNorm} (residual add fused into the norm),
 * {@link #expertFfn} (all experts' FFN as three grouped tensor-core launches),
 * {@link #groupedMatmul}, and the M2N hand-off ({@link #recordEvent}, {@link #waitFor},
 * {@link #devicePointer}) described in {@code kernels/CUDA.md}.
 *
 * <p>Calls are serialised (one at a time); the stages call a backend from one thread anyway.
 */
public final class CudaBackend implements Backend {

    private static final int BLOCK = 256;

    /**
     * @param device           CUDA device ordinal
     * @param checkEveryLaunch synchronise after every operation and throw kernel-reported index
     *                         errors at the call that caused them (slower; tests and debugging)
     */
    public record Options(int device, boolean checkEveryLaunch) {
        public static Options defaults() {
            return new Options(0, false);
        }
    }

    private final Options options;
    private final CudaContext cuda;
    private final DeviceMemory memory;
    private final DeviceChecks checks;
    private final Scratch scratch;
    private final CudaMatmul matmuls;
    private final CudaAttention attention;
    private final String name;
    private boolean closed;

    /** Opens the device; throws IllegalStateException with the reason if CUDA is unavailable. */
    public CudaBackend(Options options) {
        this.options = options;
        this.cuda = new CudaContext(options.device());
        this.memory = new DeviceMemory(cuda.stream());
        this.name = "cuda(" + cuda.deviceName() + ", compute " + cuda.computeCapability() + ", device "
                + options.device() + (options.checkEveryLaunch() ? ", checked" : "") + ")";
        this.checks = new DeviceChecks(name, memory);
        this.scratch = new Scratch(memory, cuda, name);
        this.matmuls = new CudaMatmul(cuda, scratch);
        this.attention = new CudaAttention(cuda);
    }

    @Override
    public String name() {
        return name;
    }

    // ---- memory ---------------------------------------------------------------------------

    @Override
    public synchronized Tensor allocate(DType dtype, long... shape) {
        enter();
        return memory.allocate(dtype, shape, name);
    }

    @Override
    public synchronized void release(Tensor tensor) {
        enter();
        memory.release(tensor, name);
    }

    /** Uploads a host weight (e.g. a slice of the mapped checkpoint) once; device tensors of this backend pass through. */
    @Override
    public synchronized Tensor prepareWeight(Tensor hostWeight) {
        enter();
        if (memory.owns(hostWeight)) {
            return hostWeight;
        }
        if (hostWeight.isDevice()) {
            throw new IllegalArgumentException("prepareWeight: " + hostWeight + " is device memory of another backend");
        }
        Tensor t = memory.allocate(hostWeight.dtype(), hostWeight.shape(), name);
        cuda.copyHostToDevice(hostWeight.data(), memory.pointer(t), t.byteSize());
        after("prepareWeight");
        return t;
    }

    @Override
    public synchronized void copyToHost(Tensor src, MemorySegment dst) {
        enter();
        Checks.copyToHost(src, dst);
        checks.onDevice("copyToHost", "src", src);
        cuda.copyDeviceToHost(memory.pointer(src), dst, src.byteSize());
        cuda.synchronize("copyToHost of " + src);
    }

    @Override
    public synchronized void copyFromHost(MemorySegment src, Tensor dst) {
        enter();
        Checks.copyFromHost(src, dst);
        checks.onDevice("copyFromHost", "dst", dst);
        cuda.copyHostToDevice(src, memory.pointer(dst), dst.byteSize());
        after("copyFromHost");
    }

    @Override
    public synchronized void copy(Tensor src, Tensor dst) {
        enter();
        Checks.copy(src, dst);
        checks.onDevice("copy", "src", src, "dst", dst);
        cuda.copyDeviceToDevice(memory.pointer(src), memory.pointer(dst), src.byteSize());
        after("copy");
    }

    @Override
    public synchronized void zero(Tensor t) {
        enter();
        checks.onDevice("zero", "t", t);
        cuda.zero(memory.pointer(t), t.byteSize());
        after("zero");
    }

    // ---- dense math -----------------------------------------------------------------------

    @Override
    public synchronized void matmul(Tensor x, Tensor w, Tensor out) {
        enter();
        Checks.matmul(x, w, out);
        checks.onDevice("matmul", "x", x, "w", w, "out", out);
        matmuls.matmul(x, w, out);
        after("matmul");
    }

    @Override
    public synchronized void matmulMany(Tensor x, Tensor[] ws, Tensor[] outs) {
        enter();
        Checks.matmulMany(x, ws, outs);
        checks.onDevice("matmulMany", "x", x);
        for (int j = 0; j < ws.length; j++) {
            checks.onDevice("matmulMany", "ws[" + j + "]", ws[j], "outs[" + j + "]", outs[j]);
        }
        matmuls.matmulMany(x, ws, outs);
        after("matmulMany");
    }

    @Override
    public synchronized void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        enter();
        Checks.rmsNorm(x, weight, eps, out);
        checks.onDevice("rmsNorm", "x", x, "weight", weight, "out", out);
        Kernel k = switch (weight.dtype()) {
            case BF16 -> Kernel.RMSNORM_BF16;
            case F16 -> Kernel.RMSNORM_F16;
            default -> Kernel.RMSNORM_F32;
        };
        cuda.launch(k, x.dim(0), 1, BLOCK, 1, new KernelArgs().ptr(x).ptr(weight).f32(eps).ptr(out).i64(x.dim(1)));
        after("rmsNorm");
    }

    /**
     * Fused residual add and RMSNorm: {@code h += delta; out = rmsNorm(h)} in one pass over h
     * (the attention block's {@code add} + {@code rmsNorm} pair). h, delta, out F32 [n, d].
     */
    public synchronized void addRmsNorm(Tensor h, Tensor delta, Tensor weight, float eps, Tensor out) {
        enter();
        Checks.elementwise("addRmsNorm", h, "h", delta, "delta", out);
        Checks.rmsNorm(h, weight, eps, out);
        checks.onDevice("addRmsNorm", "h", h, "delta", delta, "weight", weight, "out", out);
        Kernel k = switch (weight.dtype()) {
            case BF16 -> Kernel.ADD_RMSNORM_BF16;
            case F16 -> Kernel.ADD_RMSNORM_F16;
            default -> Kernel.ADD_RMSNORM_F32;
        };
        cuda.launch(k, h.dim(0), 1, BLOCK, 1,
                new KernelArgs().ptr(h).ptr(delta).ptr(weight).f32(eps).ptr(out).i64(h.dim(1)));
        after("addRmsNorm");
    }

    @Override
    public synchronized void add(Tensor a, Tensor b, Tensor out) {
        enter();
        Checks.elementwise("add", a, "a", b, "b", out);
        checks.onDevice("add", "a", a, "b", b, "out", out);
        cuda.launch(Kernel.ADD, CudaMatmul.blocks(a.numel()), 1, BLOCK, 1,
                new KernelArgs().ptr(a).ptr(b).ptr(out).i64(a.numel()));
        after("add");
    }

    @Override
    public synchronized void siluMul(Tensor gate, Tensor up, Tensor out) {
        enter();
        Checks.elementwise("siluMul", gate, "gate", up, "up", out);
        checks.onDevice("siluMul", "gate", gate, "up", up, "out", out);
        cuda.launch(Kernel.SILU_MUL, CudaMatmul.blocks(gate.numel()), 1, BLOCK, 1,
                new KernelArgs().ptr(gate).ptr(up).ptr(out).i64(gate.numel()));
        after("siluMul");
    }

    @Override
    public synchronized void embedding(Tensor table, Tensor ids, Tensor out) {
        enter();
        Checks.embedding(table, checks.standIn(ids), out);
        checks.onDevice("embedding", "table", table, "ids", ids, "out", out);
        Kernel k = switch (table.dtype()) {
            case BF16 -> Kernel.EMBEDDING_BF16;
            case F16 -> Kernel.EMBEDDING_F16;
            default -> Kernel.EMBEDDING_F32;
        };
        cuda.launch(k, CudaMatmul.blocks(out.numel()), 1, BLOCK, 1, new KernelArgs().ptr(table).ptr(ids).ptr(out)
                .i64(ids.numel()).i64(table.dim(1)).i64(table.dim(0)).i64(cuda.errorWordAddress()));
        after("embedding");
    }

    // ---- attention ------------------------------------------------------------------------

    @Override
    public synchronized void rope(Tensor x, Tensor positions, int numHeads, int headDim, float theta) {
        enter();
        Checks.rope(x, checks.standIn(positions), numHeads, headDim, theta);
        checks.onDevice("rope", "x", x, "positions", positions);
        long pairs = x.dim(0) * numHeads * (headDim / 2);
        cuda.launch(Kernel.ROPE, CudaMatmul.blocks(pairs), 1, BLOCK, 1, new KernelArgs().ptr(x).ptr(positions)
                .i64(x.dim(0)).i32(numHeads).i32(headDim).f32(theta).i64(cuda.errorWordAddress()));
        after("rope");
    }

    @Override
    public synchronized void writeKv(Tensor k, Tensor v, Tensor kCache, Tensor vCache, Tensor slots) {
        enter();
        Checks.writeKv(k, v, kCache, vCache, checks.standIn(slots));
        checks.onDevice("writeKv", "k", k, "v", v, "kCache", kCache, "vCache", vCache, "slots", slots);
        cuda.launch(Kernel.WRITE_KV, CudaMatmul.blocks(k.numel()), 1, BLOCK, 1, new KernelArgs().ptr(k).ptr(v)
                .ptr(kCache).ptr(vCache).ptr(slots).i64(k.dim(0)).i64(k.dim(1)).i64(kCache.dim(0))
                .i64(cuda.errorWordAddress()));
        after("writeKv");
    }

    @Override
    public synchronized void pagedAttention(Tensor q, Tensor kCache, Tensor vCache, PagedAttentionMeta meta,
                                            int numHeads, int numKvHeads, int headDim, Tensor out) {
        enter();
        checkAttention(q, kCache, vCache, meta, numHeads, numKvHeads, headDim, out);
        attention.run(q, kCache, vCache, meta, numHeads, numKvHeads, headDim, out);
        after("pagedAttention");
    }

    /** pagedAttention through a chosen kernel (decode or prefill), so tests can compare both. */
    synchronized void pagedAttentionWith(Kernel kernel, Tensor q, Tensor kCache, Tensor vCache,
                                         PagedAttentionMeta meta, int numHeads, int numKvHeads, int headDim,
                                         Tensor out) {
        enter();
        checkAttention(q, kCache, vCache, meta, numHeads, numKvHeads, headDim, out);
        attention.runWith(kernel, q, kCache, vCache, meta, numHeads, numKvHeads, headDim, out);
        after("pagedAttention(" + kernel.entry() + ")");
    }

    private void checkAttention(Tensor q, Tensor kCache, Tensor vCache, PagedAttentionMeta meta, int numHeads,
                                int numKvHeads, int headDim, Tensor out) {
        Checks.pagedAttention(q, kCache, vCache, checks.standIn(meta), numHeads, numKvHeads, headDim, out);
        checks.onDevice("pagedAttention", "q", q, "kCache", kCache, "vCache", vCache, "out", out,
                "meta.blockTables", meta.blockTables(), "meta.tokenSeq", meta.tokenSeq(),
                "meta.tokenPos", meta.tokenPos());
    }

    // ---- mixture of experts ---------------------------------------------------------------

    @Override
    public synchronized void routerTopK(Tensor logits, int k, Tensor ids, Tensor weights) {
        enter();
        Checks.routerTopK(logits, k, ids, weights);
        checks.onDevice("routerTopK", "logits", logits, "ids", ids, "weights", weights);
        cuda.launch(Kernel.ROUTER_TOPK, (logits.dim(0) + 127) / 128, 1, 128, 1, new KernelArgs().ptr(logits)
                .ptr(ids).ptr(weights).i64(logits.dim(0)).i32((int) logits.dim(1)).i32(k)
                .i64(cuda.errorWordAddress()));
        after("routerTopK");
    }

    @Override
    public synchronized void gatherRows(Tensor src, Tensor index, Tensor out) {
        enter();
        Checks.gatherRows(src, checks.standIn(index), out);
        checks.onDevice("gatherRows", "src", src, "index", index, "out", out);
        cuda.launch(Kernel.GATHER_ROWS, CudaMatmul.blocks(out.numel()), 1, BLOCK, 1, new KernelArgs().ptr(src)
                .ptr(index).ptr(out).i64(index.numel()).i64(src.dim(1)).i64(src.dim(0))
                .i64(cuda.errorWordAddress()));
        after("gatherRows");
    }

    @Override
    public synchronized void scatterAddRows(Tensor src, Tensor index, Tensor scale, Tensor out) {
        enter();
        Checks.scatterAddRows(src, checks.standIn(index), scale, out);
        checks.onDevice("scatterAddRows", "src", src, "index", index, "scale", scale, "out", out);
        cuda.launch(Kernel.SCATTER_ADD_ROWS, CudaMatmul.blocks(src.numel()), 1, BLOCK, 1, new KernelArgs()
                .ptr(src).ptr(index).ptr(scale).ptr(out).i64(src.dim(0)).i64(src.dim(1)).i64(out.dim(0))
                .i64(cuda.errorWordAddress()));
        after("scatterAddRows");
    }

    /**
     * Grouped GEMM on tensor cores: rows {@code offsets[e] .. offsets[e+1]} of {@code a} times
     * {@code ws[e]ᵀ} into the same rows of {@code out}. a F32 (rounded to bf16) or BF16 [R, k],
     * ws[e] BF16 [n, k] (may be null when its group is empty), out F32 [R, n]; k % 8 == 0.
     */
    public synchronized void groupedMatmul(Tensor a, int[] offsets, Tensor[] ws, Tensor out) {
        enter();
        ExpertChecks.groupedMatmul(a, offsets, ws, out);
        checks.onDevice("groupedMatmul", "a", a, "out", out);
        for (int e = 0; e < ws.length; e++) {
            if (ws[e] != null) {
                checks.onDevice("groupedMatmul", "ws[" + e + "]", ws[e]);
            }
        }
        matmuls.groupedMatmul(a, offsets, ws, out);
        after("groupedMatmul");
    }

    /**
     * The MoE FFN of all experts at once, equal to (up to bf16 rounding of the GEMM operands) the
     * per-expert sequence gatherRows → matmulMany(w1, w3) → siluMul → matmul(w2) → scatterAddRows:
     * {@code out[rowIndex[i]] += rowScale[i] · w2_e(silu(w1_e x) ⊙ w3_e x)} for x = x[rowIndex[i]]
     * and e the expert whose group holds row i.
     *
     * @param x        F32 [N, hidden], the tokens
     * @param rowIndex I32 [R], token of each routed row, rows grouped by expert
     * @param rowScale F32 [R], router weight of each routed row
     * @param offsets  host int[E + 1]: expert e owns routed rows offsets[e] .. offsets[e+1]; offsets[E] == R
     * @param w1       per expert BF16 [inter, hidden] gate projection (null for an expert with no rows)
     * @param w3       per expert BF16 [inter, hidden] up projection
     * @param w2       per expert BF16 [hidden, inter] down projection
     * @param out      F32 [N, hidden], accumulated into (zero it first for a fresh result)
     */
    public synchronized void expertFfn(Tensor x, Tensor rowIndex, Tensor rowScale, int[] offsets, Tensor[] w1,
                                       Tensor[] w3, Tensor[] w2, Tensor out) {
        enter();
        ExpertChecks.expertFfn(x, rowIndex, rowScale, offsets, w1, w3, w2, out);
        checks.onDevice("expertFfn", "x", x, "rowIndex", rowIndex, "rowScale", rowScale, "out", out);
        for (int e = 0; e + 1 < offsets.length; e++) {
            if (offsets[e + 1] > offsets[e]) {
                checks.onDevice("expertFfn", "w1[" + e + "]", w1[e], "w3[" + e + "]", w3[e], "w2[" + e + "]", w2[e]);
            }
        }
        matmuls.expertFfn(x, rowIndex, rowScale, offsets, w1, w3, w2, out);
        after("expertFfn");
    }

    // ---- M2N hand-off (see kernels/CUDA.md) -------------------------------------------------

    /**
     * Records an event after everything enqueued so far: when it completes, the outputs of all
     * earlier calls are in device memory. No host synchronisation. The caller closes it.
     */
    public synchronized CudaEvent recordEvent() {
        enter();
        CUevent event = new CUevent();
        CudaException.check(JCudaDriver.cuEventCreate(event, CUevent_flags.CU_EVENT_DISABLE_TIMING),
                "cuEventCreate");
        CudaException.check(JCudaDriver.cuEventRecord(event, cuda.stream()), "cuEventRecord");
        return new CudaEvent(event, cuda.context());
    }

    /** Makes later calls wait (on the device, not the host) until {@code event} completes. */
    public synchronized void waitFor(CudaEvent event) {
        enter();
        CudaException.check(JCudaDriver.cuStreamWaitEvent(cuda.stream(), event.handle(), 0), "cuStreamWaitEvent");
    }

    /** The device address of a tensor of this backend, e.g. to register it with UCX. */
    public synchronized long devicePointer(Tensor t) {
        enter();
        checks.onDevice("devicePointer", "t", t);
        return t.data().address();
    }

    /** Waits for all enqueued work and throws any index error a kernel reported. */
    public synchronized void synchronize() {
        enter();
        cuda.synchronize("synchronize");
    }

    /** Device copy bandwidth probe for benchmarks: {@code reps} device-to-device copies of src to dst. */
    synchronized void copyRepeatedly(Tensor src, Tensor dst, int reps) {
        enter();
        for (int i = 0; i < reps; i++) {
            cuda.copyDeviceToDevice(memory.pointer(src), memory.pointer(dst), src.byteSize());
        }
    }

    /** Number of live device allocations (tests check that release frees). */
    int liveAllocations() {
        return memory.liveAllocations();
    }

    CudaContext context() {
        return cuda;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        cuda.makeCurrent();
        JCudaDriver.cuStreamSynchronize(cuda.stream());
        scratch.close();
        memory.close();
        checks.close();
        cuda.close();
    }

    private void enter() {
        if (closed) {
            throw new IllegalStateException(name + " is closed");
        }
        cuda.makeCurrent();
    }

    private void after(String op) {
        if (options.checkEveryLaunch()) {
            cuda.synchronize(op);
        }
    }
}
