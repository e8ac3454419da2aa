package io.shuttle.kernels;

/**
 * Where each query row's sequence lives in the paged KV cache.
 *
 * @param blockTables I32 [numSeqs, maxBlocksPerSeq]; row s lists the cache blocks of sequence s in order
 * @param blockSize   tokens per cache block
 * @param tokenSeq    I32 [n]; the row of {@code blockTables} for each query row
 * @param tokenPos    I32 [n]; the absolute position of each query row (it attends to 0..pos)
 */
public record PagedAttentionMeta(Tensor blockTables, int blockSize, Tensor tokenSeq, Tensor tokenPos) {
    public PagedAttentionMeta {
        blockTables.requireDType(DType.I32);
        tokenSeq.requireDType(DType.I32);
        tokenPos.requireDType(DType.I32);
        if (blockTables.rank() != 2) {
            throw new IllegalArgumentException("blockTables must be [numSeqs, maxBlocks], got " + blockTables);
        }
        if (blockSize <= 0) {
            throw new IllegalArgumentException("blockSize must be positive, got " + blockSize);
        }
        if (tokenSeq.numel() != tokenPos.numel()) {
            throw new IllegalArgumentException("tokenSeq " + tokenSeq + " and tokenPos " + tokenPos + " differ in length");
        }
    }

    public int maxBlocksPerSeq() {
        return (int) blockTables.dim(1);
    }
}
