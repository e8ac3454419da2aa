package io.shuttle.kernels.cuda;

/**
 * The index errors kernels report through the backend's error word (codes match
 * {@code shuttle_common.cuh}). A kernel that meets a bad index skips the memory it would have
 * touched, records the first such error, and the backend throws it at its next check.
 */
enum KernelError {
    EMBEDDING_ID(1, "embedding: ids[%d] = %d is outside the table's rows (0..%d)"),
    WRITE_KV_SLOT(2, "writeKv: slots[%d] = %d is outside the cache's slots (0..%d)"),
    ATTN_SEQ(3, "pagedAttention: meta.tokenSeq[%d] = %d is outside the rows of blockTables (0..%d)"),
    ATTN_POS(4, "pagedAttention: meta.tokenPos[%d] = %d does not fit the block table (positions 0..%d)"),
    ATTN_BLOCK(5, "pagedAttention: for query row %d, meta.blockTables holds block %d, outside the cache's blocks"
            + " (0..%d)"),
    GATHER_INDEX(6, "gather: index[%d] = %d is outside src's rows (0..%d)"),
    SCATTER_INDEX(7, "scatterAdd: index[%d] = %d is outside out's rows (0..%d)"),
    ROPE_POS(8, "rope: positions[%d] = %d is negative%s"),
    ROUTER_NAN(9, "routerTopK: row %d has NaN logits (pick %d of %d experts found no candidate)");

    private final int code;
    private final String format;

    KernelError(int code, String format) {
        this.code = code;
        this.format = format;
    }

    /** The message for an error word {code, row, value, bound}; "unknown" codes are named as such. */
    static String describe(int[] word) {
        for (KernelError e : values()) {
            if (e.code == word[0]) {
                if (e == ROPE_POS) {
                    return String.format(e.format, word[1], word[2], "");
                }
                // Bounds are exclusive in the kernels; messages show the last valid index. A
                // negative row means a prefill tile loading keys for its leading sequence.
                return String.format(e.format, word[1], word[2], e == ROUTER_NAN ? word[3] : word[3] - 1)
                        + (word[1] < 0 ? " (prefill tile " + (-1 - word[1]) + ")" : "");
            }
        }
        return "a CUDA kernel reported unknown error code " + word[0] + " (row " + word[1] + ", value " + word[2]
                + ", bound " + word[3] + ")";
    }
}
