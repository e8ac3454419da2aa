package io.shuttle.kernels.cuda;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;

/**
 * Chooses and launches the matmul kernels.
 * <ul>
 *   <li>n ≤ 8 rows (decode): GEMV, one warp per weight row, f32 x, any weight dtype. Memory-bound,
 *       so it is as fast as streaming the weight, and exact in f32.</li>
 *   <li>BF16 weights, k % 8 == 0, 16-byte aligned: x rounded to bf16 once, then the tensor-core
 *       GEMM (f32 accumulation). Several weights over the same x (Q/K/V) share one launch.</li>
 *   <li>anything else: the SIMT tiled kernel (f32 math).</li>
 * </ul>
 * The grouped expert FFN lives here too, because it is the same GEMM with fused epilogues.
 */
final class CudaMatmul {
    static final int GEMV_MAX_ROWS = 8;
    private static final int GEMV_WARPS = 8;
    private static final int ELEMENTWISE_BLOCK = 256;

    private final CudaContext cuda;
    private final Scratch scratch;

    CudaMatmul(CudaContext cuda, Scratch scratch) {
        this.cuda = cuda;
        this.scratch = scratch;
    }

    /** out = x · wᵀ; arguments already checked. */
    void matmul(Tensor x, Tensor w, Tensor out) {
        long n = x.dim(0), k = x.dim(1), m = w.dim(0);
        if (n == 0 || m == 0) {
            return;
        }
        if (n <= GEMV_MAX_ROWS) {
            boolean vec = k % 8 == 0 && DeviceChecks.aligned16(x) && DeviceChecks.aligned16(w);
            Kernel kernel = switch (w.dtype()) {
                case F32 -> Kernel.GEMV_F32;
                case BF16 -> Kernel.GEMV_BF16;
                case F16 -> Kernel.GEMV_F16;
                case I32 -> throw new IllegalArgumentException("matmul: w must be floating, got " + w);
            };
            cuda.launch(kernel, (m + GEMV_WARPS - 1) / GEMV_WARPS, 1, 32 * GEMV_WARPS, 1,
                    new KernelArgs().ptr(x).ptr(w).ptr(out).i32((int) n).i64(m).i64(k).i32(vec ? 1 : 0));
        } else if (tensorCoreEligible(w, k)) {
            Tensor a = toBf16(x, null, x.dim(0));
            gemm(Kernel.GEMM_BF16, new GroupedGemm(k).add(new GroupedGemm.Group(addr(a), addr(w), 0, addr(out),
                    n, m, 0)), 0, 0, 0, 0);
        } else {
            Kernel kernel = switch (w.dtype()) {
                case F32 -> Kernel.MATMUL_SIMT_F32;
                case BF16 -> Kernel.MATMUL_SIMT_BF16;
                case F16 -> Kernel.MATMUL_SIMT_F16;
                case I32 -> throw new IllegalArgumentException("matmul: w must be floating, got " + w);
            };
            cuda.launch(kernel, (m + 15) / 16, (n + 15) / 16, 16, 16,
                    new KernelArgs().ptr(x).ptr(w).ptr(out).i64(n).i64(m).i64(k));
        }
    }

    /** outs[j] = x · ws[j]ᵀ; one tensor-core launch when every weight qualifies, else one call each. */
    void matmulMany(Tensor x, Tensor[] ws, Tensor[] outs) {
        long n = x.dim(0), k = x.dim(1);
        boolean grouped = n > GEMV_MAX_ROWS && ws.length <= GroupedGemm.MAX_GROUPS;
        for (Tensor w : ws) {
            grouped &= tensorCoreEligible(w, k);
        }
        if (!grouped) {
            for (int j = 0; j < ws.length; j++) {
                matmul(x, ws[j], outs[j]);
            }
            return;
        }
        Tensor a = toBf16(x, null, n);
        GroupedGemm g = new GroupedGemm(k);
        for (int j = 0; j < ws.length; j++) {
            g.add(new GroupedGemm.Group(addr(a), addr(ws[j]), 0, addr(outs[j]), n, ws[j].dim(0), 0));
        }
        gemm(Kernel.GEMM_BF16, g, 0, 0, 0, 0);
    }

    /**
     * out rows of group e = a rows of group e · ws[e]ᵀ, groups given by row offsets (tokens sorted by
     * expert). a is F32 (rounded to bf16 here) or BF16; ws[e] BF16 [n, k], null only for empty groups.
     */
    void groupedMatmul(Tensor a, int[] offsets, Tensor[] ws, Tensor out) {
        long k = a.dim(1);
        Tensor ab = a.dtype() == DType.BF16 ? a : toBf16(a, null, a.dim(0));
        long n = out.dim(1);
        GroupedGemm g = new GroupedGemm(k);
        for (int e = 0; e + 1 < offsets.length; e++) {
            long rows = offsets[e + 1] - offsets[e];
            if (rows > 0) {
                g.add(new GroupedGemm.Group(addr(ab) + offsets[e] * k * 2, addr(ws[e]), 0,
                        addr(out) + offsets[e] * n * 4, rows, n, offsets[e]));
            }
        }
        gemm(Kernel.GEMM_BF16, g, 0, 0, 0, 0);
    }

    /**
     * The whole expert FFN of a batch of routed rows: gather + bf16 (one pass), gate/up GEMM with
     * SiLU-mul fused (bf16 H), down GEMM with the router weight and the scatter-add into out fused.
     * Three launches for all experts, instead of five calls per expert.
     */
    void expertFfn(Tensor x, Tensor rowIndex, Tensor rowScale, int[] offsets, Tensor[] w1, Tensor[] w3,
                   Tensor[] w2, Tensor out) {
        long routed = rowIndex.numel();
        long hidden = x.dim(1);
        long inter = firstNonNull(w1).dim(0);
        if (routed == 0) {
            return;
        }
        Tensor xg = toBf16(x, rowIndex, routed);
        Tensor h = scratch.bf16(Scratch.Slot.H_BF16, routed, inter);
        GroupedGemm up = new GroupedGemm(hidden);
        GroupedGemm down = new GroupedGemm(inter);
        for (int e = 0; e + 1 < offsets.length; e++) {
            long rows = offsets[e + 1] - offsets[e];
            if (rows == 0) {
                continue;
            }
            long start = offsets[e];
            up.add(new GroupedGemm.Group(addr(xg) + start * hidden * 2, addr(w1[e]), addr(w3[e]),
                    addr(h) + start * inter * 2, rows, inter, start));
            down.add(new GroupedGemm.Group(addr(h) + start * inter * 2, addr(w2[e]), 0, 0, rows, hidden, start));
        }
        gemm(Kernel.GEMM_BF16_SWIGLU, up, 0, 0, 0, 0);
        gemm(Kernel.GEMM_BF16_SCATTER, down, addr(out), addr(rowIndex), addr(rowScale), out.dim(0));
    }

    static boolean tensorCoreEligible(Tensor w, long k) {
        return w.dtype() == DType.BF16 && k % 8 == 0 && DeviceChecks.aligned16(w);
    }

    /** bf16 copy of rows of src (all rows, or src[index[i]] when index is given) in scratch. */
    private Tensor toBf16(Tensor src, Tensor index, long rows) {
        long d = src.dim(1);
        Tensor dst = scratch.bf16(Scratch.Slot.A_BF16, rows, d);
        long total = rows * d;
        KernelArgs args = new KernelArgs().ptr(src);
        if (index == null) {
            args.nullPtr();
        } else {
            args.ptr(index);
        }
        args.ptr(dst).i64(rows).i64(d).i64(src.dim(0)).i64(cuda.errorWordAddress());
        cuda.launch(Kernel.ROWS_TO_BF16, blocks(total), 1, ELEMENTWISE_BLOCK, 1, args);
        return dst;
    }

    private void gemm(Kernel kernel, GroupedGemm all, long scatterOut, long index, long scale, long outRows) {
        for (GroupedGemm g : all.chunks()) {
            byte[] params = g.encode(scatterOut, index, scale, outRows, cuda.errorWordAddress());
            cuda.launch(kernel, g.gridX(), g.gridY(), 128, 1, new KernelArgs().struct(params));
        }
    }

    static long blocks(long elements) {
        return Math.max(1, Math.min(65535L * 16, (elements + ELEMENTWISE_BLOCK - 1) / ELEMENTWISE_BLOCK));
    }

    private static long addr(Tensor t) {
        return t.data().address();
    }

    private static Tensor firstNonNull(Tensor[] ts) {
        for (Tensor t : ts) {
            if (t != null) {
                return t;
            }
        }
        throw new IllegalArgumentException("expertFfn: every expert weight is null");
    }
}
