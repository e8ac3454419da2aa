package io.shuttle.engine;

/**
 * Hands out KV cache blocks. A sequence owns a {@link BlockTable}; {@link #ensureCapacity}
 * grows it to hold a number of tokens, all or nothing, and reports "no room" instead of
 * throwing so the scheduler can wait or preempt. Not thread-safe: the scheduler owns it.
 */
public final class BlockAllocator {
    private final int blockSize;
    private final int[] free;
    private int freeCount;

    public BlockAllocator(int numBlocks, int blockSize) {
        this.blockSize = blockSize;
        this.free = new int[numBlocks];
        // Hand out low block ids first (stack top = lowest id): easier to read in traces.
        for (int i = 0; i < numBlocks; i++) {
            free[i] = numBlocks - 1 - i;
        }
        this.freeCount = numBlocks;
    }

    /** Blocks needed for {@code tokens} tokens. */
    public int blocksFor(int tokens) {
        return (tokens + blockSize - 1) / blockSize;
    }

    /**
     * Grows {@code table} so it can hold {@code tokens} tokens. Returns false, changing nothing,
     * if there are not enough free blocks.
     */
    public boolean ensureCapacity(BlockTable table, int tokens) {
        int need = blocksFor(tokens) - table.size();
        if (need <= 0) {
            return true;
        }
        if (need > freeCount) {
            return false;
        }
        for (int i = 0; i < need; i++) {
            table.append(free[--freeCount]);
        }
        return true;
    }

    /** Returns all of {@code table}'s blocks to the pool and empties it. */
    public void release(BlockTable table) {
        for (int i = 0; i < table.size(); i++) {
            free[freeCount++] = table.block(i);
        }
        table.clear();
    }

    public int freeBlocks() {
        return freeCount;
    }

    public int totalBlocks() {
        return free.length;
    }

    public int blockSize() {
        return blockSize;
    }
}
