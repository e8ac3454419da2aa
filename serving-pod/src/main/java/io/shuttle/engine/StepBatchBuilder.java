package io.shuttle.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Collects chunks of sequences into a {@link StepBatch}. Each {@link #add} appends
 * {@code count} consecutive tokens of one sequence starting at {@code startPos}; the sequence's
 * block table must already cover them.
 */
public final class StepBatchBuilder {
    private final int blockSize;
    private final int[] tokens;
    private final int[] positions;
    private final int[] slots;
    private final int[] tokenSeq;
    private final List<int[]> tables = new ArrayList<>();
    private final List<Integer> logitRows = new ArrayList<>();
    private int n;

    public StepBatchBuilder(int maxTokens, int blockSize) {
        this.blockSize = blockSize;
        tokens = new int[maxTokens];
        positions = new int[maxTokens];
        slots = new int[maxTokens];
        tokenSeq = new int[maxTokens];
    }

    public int size() {
        return n;
    }

    public int capacityLeft() {
        return tokens.length - n;
    }

    /**
     * Adds tokens {@code ids[from, from+count)} of a sequence at positions {@code from..};
     * if {@code wantLogits}, the chunk's last row is marked for logits. Returns the row index of
     * the chunk's last token.
     */
    public int add(int[] ids, int from, int count, BlockTable table, boolean wantLogits) {
        if (count <= 0 || count > capacityLeft()) {
            throw new IllegalArgumentException("chunk of " + count + " tokens does not fit (" + capacityLeft() + " left)");
        }
        if (table.size() * blockSize < from + count) {
            throw new IllegalStateException("block table holds " + table.size() * blockSize
                    + " tokens but the chunk ends at position " + (from + count));
        }
        int seq = tables.size();
        int[] blocks = new int[table.size()];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = table.block(i);
        }
        tables.add(blocks);
        for (int i = 0; i < count; i++) {
            int pos = from + i;
            tokens[n] = ids[pos];
            positions[n] = pos;
            slots[n] = table.slot(pos, blockSize);
            tokenSeq[n] = seq;
            n++;
        }
        if (wantLogits) {
            logitRows.add(n - 1);
        }
        return n - 1;
    }

    public StepBatch build() {
        return new StepBatch(n, Arrays.copyOf(tokens, n), Arrays.copyOf(positions, n), Arrays.copyOf(slots, n),
                Arrays.copyOf(tokenSeq, n), tables.toArray(int[][]::new),
                logitRows.stream().mapToInt(Integer::intValue).toArray());
    }

    public void reset() {
        n = 0;
        tables.clear();
        logitRows.clear();
    }
}
