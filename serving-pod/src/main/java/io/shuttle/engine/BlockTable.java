package io.shuttle.engine;

import java.util.Arrays;

/** The cache blocks of one sequence, in order. Grown only by {@link BlockAllocator}. */
public final class BlockTable {
    private int[] blocks = new int[4];
    private int size;

    void append(int block) {
        if (size == blocks.length) {
            blocks = Arrays.copyOf(blocks, size * 2);
        }
        blocks[size++] = block;
    }

    void clear() {
        size = 0;
    }

    public int size() {
        return size;
    }

    public int block(int i) {
        return blocks[i];
    }

    /** The cache slot of the token at {@code position}. */
    public int slot(int position, int blockSize) {
        return blocks[position / blockSize] * blockSize + position % blockSize;
    }
}
