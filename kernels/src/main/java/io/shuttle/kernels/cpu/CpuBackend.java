package io.shuttle.kernels.cpu;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.Checks;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.HostBackend;
import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The fast host backend: Java Vector API kernels (width: {@link Simd#F}) over off-heap memory,
 * split over a pool of persistent worker threads that this backend owns.
 *
 * <p>Each operation validates its arguments ({@link Checks}), hands the operands to its kernel
 * object (one per operation, reused: no allocation per call) and runs it either on the calling
 * thread alone, when the work is too small to repay a dispatch (about a microsecond), or on every
 * worker with the caller taking share 0. Compute calls are {@code synchronized}: kernel objects
 * and scratch are shared, so calls from several threads run one at a time.
 */
public final class CpuBackend extends HostBackend {

    /** Below this many elements (or multiply-adds) an op runs on the calling thread only. */
    private static final long PARALLEL_THRESHOLD = 1 << 15;

    private final WorkerPool pool;
    private final String name;
    private final MatmulGemv gemv = new MatmulGemv();
    private final MatmulGemm gemm;
    private final MatmulPacked packed = new MatmulPacked();
    /** Holds the packed copies of linear weights ({@link #prepareLinear}) until {@link #close}. */
    private final Arena weightArena = Arena.ofShared();
    private final WeightSlabs weightSlabs = new WeightSlabs(weightArena);
    private final Tensor[] oneWeight = new Tensor[1];
    private final Tensor[] oneOut = new Tensor[1];
    private final RmsNorm rmsNorm = new RmsNorm();
    private final Elementwise elementwise = new Elementwise();
    private final Embedding embedding = new Embedding();
    private final Rope rope = new Rope();
    private final PagedAttention attention;
    private final RouterTopK router = new RouterTopK();
    private final RowOps rowOps = new RowOps();

    /** One thread per available processor. */
    public CpuBackend() {
        this(Runtime.getRuntime().availableProcessors());
    }

    /** @param threads total parallelism, the calling thread included */
    public CpuBackend(int threads) {
        super(describe(threads));
        this.name = describe(threads);
        this.pool = new WorkerPool(threads, "shuttle-cpu-");
        this.gemm = new MatmulGemm(threads);
        this.attention = new PagedAttention(threads);
    }

    @Override
    public String name() {
        return name;
    }

    private static String describe(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("CpuBackend: threads must be at least 1, got " + threads);
        }
        return "cpu(vector " + Simd.F.vectorBitSize() + "-bit, " + threads + " thread" + (threads == 1 ? "" : "s") + ")";
    }

    /** Total parallelism, calling thread included. */
    public int threads() {
        return pool.size();
    }

    /** The vector width the kernels use, in bits. */
    public static int vectorBits() {
        return Simd.F.vectorBitSize();
    }

    // ---- dense math -----------------------------------------------------------------------

    /** BF16 matrices of at least one group of outputs are repacked ({@link PackedBf16}); anything else is used in place. */
    @Override
    public synchronized Tensor prepareLinear(Tensor hostWeight) {
        return PackedBf16.worthPacking(hostWeight) ? PackedBf16.pack(hostWeight, weightSlabs) : hostWeight;
    }

    @Override
    public synchronized void matmul(Tensor x, Tensor w, Tensor out) {
        Checks.matmul(x, w, out);
        if (w.isPacked()) {
            oneWeight[0] = w;
            oneOut[0] = out;
            matmulPacked(x, oneWeight, oneOut);
        } else if (x.dim(0) == 1 && MatmulGemv.supports(w.dtype())) {
            gemv.prepare(x, w, out);
            dispatchGemv(x.dim(1) * w.dim(0));
        } else {
            gemm(x, w, out);
        }
    }

    /**
     * At n = 1 with F32/BF16 weights, all matrices form one GEMV job (one dispatch, rows claimed
     * in chunks across matrices); otherwise one GEMM per matrix.
     */
    @Override
    public synchronized void matmulMany(Tensor x, Tensor[] ws, Tensor[] outs) {
        Checks.matmulMany(x, ws, outs);
        boolean gemvAll = x.dim(0) == 1;
        boolean packedAll = true;
        long rows = 0;
        for (Tensor w : ws) {
            gemvAll &= MatmulGemv.supports(w.dtype()) && !w.isPacked();
            packedAll &= w.isPacked();
            rows += w.dim(0);
        }
        if (packedAll) {
            matmulPacked(x, ws, outs);
        } else if (gemvAll) {
            gemv.prepare(x, ws, outs);
            dispatchGemv(x.dim(1) * rows);
        } else {
            for (int j = 0; j < ws.length; j++) {
                matmul(x, ws[j], outs[j]);
            }
        }
    }

    /** One job over every (packed) matrix: units are claimed across matrix boundaries. */
    private void matmulPacked(Tensor x, Tensor[] ws, Tensor[] outs) {
        if (x.dim(0) == 0) {
            return; // no rows: nothing to write (and no row blocks to split the work into)
        }
        long work = 0;
        for (Tensor w : ws) {
            work += x.dim(0) * x.dim(1) * w.dim(0);
        }
        int workers = work < PARALLEL_THRESHOLD ? 1 : pool.size();
        packed.prepare(x, ws, outs, workers);
        if (workers == 1) {
            packed.run(0, 1);
        } else {
            pool.run(packed, packed.shares());
        }
    }

    private void gemm(Tensor x, Tensor w, Tensor out) {
        long work = x.dim(0) * x.dim(1) * w.dim(0);
        gemm.prepare(x, w, out, work < PARALLEL_THRESHOLD ? 1 : pool.size());
        dispatch(gemm, work);
    }

    /** The prepared GEMV: inline when small or single-threaded, else chunks claimed by the pool. */
    private void dispatchGemv(long macs) {
        if (macs < PARALLEL_THRESHOLD || pool.size() == 1) {
            gemv.run(0, 1);
        } else {
            pool.run(gemv, gemv.chunks());
        }
    }

    @Override
    public synchronized void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        Checks.rmsNorm(x, weight, eps, out);
        dispatch(rmsNorm, rmsNorm.prepare(x, weight, eps, out));
    }

    @Override
    public synchronized void add(Tensor a, Tensor b, Tensor out) {
        Checks.elementwise("add", a, "a", b, "b", out);
        dispatch(elementwise, elementwise.prepare(Elementwise.Op.ADD, a, b, out));
    }

    @Override
    public synchronized void siluMul(Tensor gate, Tensor up, Tensor out) {
        Checks.elementwise("siluMul", gate, "gate", up, "up", out);
        dispatch(elementwise, elementwise.prepare(Elementwise.Op.SILU_MUL, gate, up, out));
    }

    @Override
    public synchronized void embedding(Tensor table, Tensor ids, Tensor out) {
        Checks.embedding(table, ids, out);
        dispatch(embedding, embedding.prepare(table, ids, out));
    }

    // ---- attention ------------------------------------------------------------------------

    @Override
    public synchronized void rope(Tensor x, Tensor positions, int numHeads, int headDim, float theta) {
        Checks.rope(x, positions, numHeads, headDim, theta);
        dispatch(rope, rope.prepare(x, positions, numHeads, headDim, theta));
    }

    @Override
    public synchronized void writeKv(Tensor k, Tensor v, Tensor kCache, Tensor vCache, Tensor slots) {
        Checks.writeKv(k, v, kCache, vCache, slots);
        RowOps.writeKv(k, v, kCache, vCache, slots);
    }

    @Override
    public synchronized void pagedAttention(Tensor q, Tensor kCache, Tensor vCache, PagedAttentionMeta meta,
                               int numHeads, int numKvHeads, int headDim, Tensor out) {
        Checks.pagedAttention(q, kCache, vCache, meta, numHeads, numKvHeads, headDim, out);
        dispatch(attention, attention.prepare(q, kCache, vCache, meta, numHeads, numKvHeads, headDim, out));
    }

    // ---- mixture of experts ---------------------------------------------------------------

    @Override
    public synchronized void routerTopK(Tensor logits, int k, Tensor ids, Tensor weights) {
        Checks.routerTopK(logits, k, ids, weights);
        router.run(logits, k, ids, weights);
    }

    @Override
    public synchronized void gatherRows(Tensor src, Tensor index, Tensor out) {
        Checks.gatherRows(src, index, out);
        RowOps.gatherRows(src, index, out);
    }

    @Override
    public synchronized void scatterAddRows(Tensor src, Tensor index, Tensor scale, Tensor out) {
        Checks.scatterAddRows(src, index, scale, out);
        dispatch(rowOps, rowOps.prepareScatterAdd(src, index, scale, out));
    }

    private void dispatch(WorkerPool.Job job, long work) {
        if (work < PARALLEL_THRESHOLD) {
            job.run(0, 1);
        } else {
            pool.run(job);
        }
    }

    @Override
    public void close() {
        pool.close();
        releaseAll();
        weightArena.close();
    }
}
