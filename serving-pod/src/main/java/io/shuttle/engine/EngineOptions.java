package io.shuttle.engine;

/**
 * Sizes of an engine's preallocated state.
 *
 * @param maxBatchTokens rows in one forward pass (prefill chunks plus decode tokens)
 * @param maxLogitRows   sequences that can want logits in one pass
 * @param kvBlocks       KV cache blocks
 * @param blockSize      tokens per KV cache block
 * @param maxModelLen    longest sequence (prompt + generated) allowed
 */
public record EngineOptions(int maxBatchTokens, int maxLogitRows, int kvBlocks, int blockSize, int maxModelLen) {

    public EngineOptions {
        if (maxBatchTokens <= 0 || maxLogitRows <= 0 || kvBlocks <= 0 || blockSize <= 0 || maxModelLen <= 0) {
            throw new IllegalArgumentException("engine sizes must be positive: " + this);
        }
        if (maxLogitRows > maxBatchTokens) {
            throw new IllegalArgumentException("maxLogitRows (" + maxLogitRows + ") cannot exceed maxBatchTokens ("
                    + maxBatchTokens + ")");
        }
    }

    /** Defaults for a CPU process: 512-token batches, 256 sequences, 16-token blocks, 4096 blocks. */
    public static EngineOptions defaults(int maxModelLen) {
        return new EngineOptions(512, 256, 4096, 16, maxModelLen);
    }

    public int maxBlocksPerSeq() {
        return (maxModelLen + blockSize - 1) / blockSize;
    }
}
