package io.shuttle.kernels.cuda;

import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;

/**
 * Launches the paged-attention kernels ({@code attention.cu}) with their by-value argument struct.
 * Many query rows (prefill, chunked prefill) take the prefill kernel, which stages each tile's
 * keys and values in shared memory once for 8 rows; few rows (decode) take the decode kernel,
 * which spreads one row's keys over 4 warps.
 */
final class CudaAttention {
    /** Query rows from which the shared-memory prefill kernel pays off. */
    static final int PREFILL_MIN_ROWS = 16;
    static final int MAX_HEAD_DIM = 256;
    private static final int PREFILL_ROWS_PER_BLOCK = 8;

    private final CudaContext cuda;

    CudaAttention(CudaContext cuda) {
        this.cuda = cuda;
    }

    /** Arguments already checked (shapes); index values are checked by the kernels. */
    void run(Tensor q, Tensor kCache, Tensor vCache, PagedAttentionMeta meta, int numHeads, int numKvHeads,
             int headDim, Tensor out) {
        if (headDim > MAX_HEAD_DIM) {
            throw new IllegalArgumentException("pagedAttention: the CUDA kernels support headDim up to "
                    + MAX_HEAD_DIM + ", got " + headDim);
        }
        long n = q.dim(0);
        int group = numHeads / numKvHeads;
        boolean small = headDim <= 128;
        int headsPerBlock = small ? 8 : 4;
        long gridY = (long) numKvHeads * ((group + headsPerBlock - 1) / headsPerBlock);
        byte[] args = encode(q, kCache, vCache, meta, numHeads, numKvHeads, headDim, out);
        if (small && n >= PREFILL_MIN_ROWS) {
            cuda.launch(Kernel.ATTENTION_PREFILL_D128, (n + PREFILL_ROWS_PER_BLOCK - 1) / PREFILL_ROWS_PER_BLOCK,
                    gridY, 32 * PREFILL_ROWS_PER_BLOCK, 1, new KernelArgs().struct(args));
        } else {
            cuda.launch(small ? Kernel.ATTENTION_DECODE_D128 : Kernel.ATTENTION_DECODE_D256, n, gridY, 128, 1,
                    new KernelArgs().struct(args));
        }
    }

    /** Forces one kernel (tests compare both on the same inputs). */
    void runWith(Kernel kernel, Tensor q, Tensor kCache, Tensor vCache, PagedAttentionMeta meta, int numHeads,
                 int numKvHeads, int headDim, Tensor out) {
        long n = q.dim(0);
        int group = numHeads / numKvHeads;
        int headsPerBlock = kernel == Kernel.ATTENTION_DECODE_D256 ? 4 : 8;
        long gridY = (long) numKvHeads * ((group + headsPerBlock - 1) / headsPerBlock);
        byte[] args = encode(q, kCache, vCache, meta, numHeads, numKvHeads, headDim, out);
        if (kernel == Kernel.ATTENTION_PREFILL_D128) {
            cuda.launch(kernel, (n + PREFILL_ROWS_PER_BLOCK - 1) / PREFILL_ROWS_PER_BLOCK, gridY,
                    32 * PREFILL_ROWS_PER_BLOCK, 1, new KernelArgs().struct(args));
        } else {
            cuda.launch(kernel, n, gridY, 128, 1, new KernelArgs().struct(args));
        }
    }

    /** {@code struct AttnArgs} of attention.cu, field by field. */
    byte[] encode(Tensor q, Tensor kCache, Tensor vCache, PagedAttentionMeta meta, int numHeads, int numKvHeads,
                  int headDim, Tensor out) {
        return encode(q.data().address(), kCache.data().address(), vCache.data().address(),
                meta.blockTables().data().address(), meta.tokenSeq().data().address(),
                meta.tokenPos().data().address(), out.data().address(), q.dim(0), numHeads, numKvHeads, headDim,
                meta.blockSize(), meta.maxBlocksPerSeq(), (int) meta.blockTables().dim(0),
                kCache.dim(0) / meta.blockSize(), (float) (1.0 / Math.sqrt(headDim)), cuda.errorWordAddress());
    }

    static byte[] encode(long q, long kc, long vc, long tables, long tokenSeq, long tokenPos, long out, long n,
                         int numHeads, int numKvHeads, int headDim, int blockSize, int maxBlocks, int numSeqs,
                         long numCacheBlocks, float scale, long err) {
        return new CStruct(128)
                .i64(q).i64(kc).i64(vc).i64(tables).i64(tokenSeq).i64(tokenPos).i64(out)
                .i64(n)
                .i32(numHeads).i32(numKvHeads).i32(headDim).i32(blockSize).i32(maxBlocks).i32(numSeqs)
                .i64(numCacheBlocks)
                .f32(scale)
                .i64(err)
                .bytes();
    }
}
