package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import io.shuttle.model.ModelConfig;

/**
 * The physical paged KV cache of an attention process: for every layer a K and a V tensor of
 * {@code numBlocks × blockSize} slots, each slot one token's keys (or values) for all KV heads.
 * Which blocks belong to which sequence is decided by {@link BlockAllocator}; this class only
 * owns the memory.
 */
public final class KvCache implements AutoCloseable {
    private final Backend backend;
    private final Tensor[] keys;
    private final Tensor[] values;
    private final int numBlocks;
    private final int blockSize;

    public KvCache(Backend backend, ModelConfig config, int numBlocks, int blockSize) {
        if (numBlocks <= 0 || blockSize <= 0) {
            throw new IllegalArgumentException("KV cache needs positive numBlocks and blockSize, got "
                    + numBlocks + " × " + blockSize);
        }
        this.backend = backend;
        this.numBlocks = numBlocks;
        this.blockSize = blockSize;
        long slots = (long) numBlocks * blockSize;
        keys = new Tensor[config.numLayers()];
        values = new Tensor[config.numLayers()];
        for (int l = 0; l < config.numLayers(); l++) {
            keys[l] = backend.allocate(DType.F32, slots, config.kvDim());
            values[l] = backend.allocate(DType.F32, slots, config.kvDim());
        }
    }

    /** Bytes needed for a cache of {@code numBlocks} blocks (F32 keys and values, all layers). */
    public static long bytesFor(ModelConfig config, int numBlocks, int blockSize) {
        return 2L * config.numLayers() * numBlocks * blockSize * config.kvDim() * Float.BYTES;
    }

    public Tensor keys(int layer) {
        return keys[layer];
    }

    public Tensor values(int layer) {
        return values[layer];
    }

    public int numBlocks() {
        return numBlocks;
    }

    public int blockSize() {
        return blockSize;
    }

    @Override
    public void close() {
        for (int l = 0; l < keys.length; l++) {
            backend.release(keys[l]);
            backend.release(values[l]);
        }
    }
}
