package io.shuttle.engine;

/**
 * Host-side description of one forward pass over a batch of token rows, possibly from many
 * sequences, each contributing a contiguous chunk (a whole prompt, a prefill chunk or one
 * decode token). Built by {@link StepBatchBuilder}; uploaded to backend tensors by
 * {@link BatchInputs}.
 *
 * @param numTokens   rows in this batch
 * @param tokens      [numTokens] token ids
 * @param positions   [numTokens] absolute positions
 * @param slots       [numTokens] KV cache slot of each row
 * @param tokenSeq    [numTokens] index into {@code blockTables} of each row's sequence
 * @param blockTables [numSeqs][maxBlocks] cache blocks of each sequence (unused entries 0)
 * @param logitRows   rows whose logits are needed (the last row of each sequence that reached its end)
 */
public record StepBatch(int numTokens, int[] tokens, int[] positions, int[] slots, int[] tokenSeq,
                        int[][] blockTables, int[] logitRows) {

    public int numSeqs() {
        return blockTables.length;
    }

    public int maxBlocks() {
        int max = 1;
        for (int[] t : blockTables) {
            max = Math.max(max, t.length);
        }
        return max;
    }
}
