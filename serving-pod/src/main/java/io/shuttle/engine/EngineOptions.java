package io.shuttle.engine;

/**
 * Sizes of an engine's preallocated state.
 *
 * @param maxBatchTokens rows in one forward pass (prefill chunks plus decode tokens)
 * @param maxLogitRows   sequences that can want logits in one pass
 * @param kvBlocks       KV cache blocks
 * @param blockSize      tokens per KV cache block
 * @param maxModelLen    longest sequence (prompt + generated) allowed
 * @param maxWaiting     requests queued beyond the running ones (backpressure bound)
 */
public record EngineOptions(int maxBatchTokens, int maxLogitRows, int kvBlocks, int blockSize, int maxModelLen,
                            int maxWaiting) {

    public EngineOptions {
        if (maxBatchTokens <= 0 || maxLogitRows <= 0 || kvBlocks <= 0 || blockSize <= 0 || maxModelLen <= 0
                || maxWaiting <= 0) {
            throw new IllegalArgumentException("engine sizes must be positive: " + this);
        }
        if (maxLogitRows > maxBatchTokens) {
            throw new IllegalArgumentException("maxLogitRows (" + maxLogitRows + ") cannot exceed maxBatchTokens ("
                    + maxBatchTokens + ")");
        }
    }

    /** Defaults for a CPU process: 512-token batches, 256 sequences, 16-token blocks, 4096 blocks. */
    public static EngineOptions defaults(int maxModelLen) {
        return new EngineOptions(512, 256, 4096, 16, maxModelLen, 1024);
    }

    /** The same sizes with a bounded queue of 1024 waiting requests. */
    public EngineOptions(int maxBatchTokens, int maxLogitRows, int kvBlocks, int blockSize, int maxModelLen) {
        this(maxBatchTokens, maxLogitRows, kvBlocks, blockSize, maxModelLen, 1024);
    }

    public int maxBlocksPerSeq() {
        return (maxModelLen + blockSize - 1) / blockSize;
    }
}
