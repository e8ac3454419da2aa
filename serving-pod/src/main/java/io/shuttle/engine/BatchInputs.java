package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The index tensors of a {@link StepBatch} in backend memory, allocated once for the largest
 * batch and refilled every step through one host staging buffer.
 */
public final class BatchInputs implements AutoCloseable {
    private final Backend backend;
    private final int blockSize;
    private final int maxTokens;
    private final int maxBlocks;
    private final Tensor tokens;
    private final Tensor positions;
    private final Tensor slots;
    private final Tensor tokenSeq;
    private final Tensor blockTables;
    private final Tensor logitRows;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment staging;

    private int numTokens;
    private int numSeqs;
    private int numLogitRows;

    public BatchInputs(Backend backend, int maxTokens, int maxBlocksPerSeq, int blockSize) {
        this.backend = backend;
        this.blockSize = blockSize;
        this.maxTokens = maxTokens;
        this.maxBlocks = maxBlocksPerSeq;
        tokens = backend.allocate(DType.I32, maxTokens);
        positions = backend.allocate(DType.I32, maxTokens);
        slots = backend.allocate(DType.I32, maxTokens);
        tokenSeq = backend.allocate(DType.I32, maxTokens);
        logitRows = backend.allocate(DType.I32, maxTokens);
        blockTables = backend.allocate(DType.I32, maxTokens, maxBlocksPerSeq);
        staging = arena.allocate((long) maxTokens * maxBlocksPerSeq * Integer.BYTES, 64);
    }

    /** Copies the batch's indices to the backend; the views below then describe this batch. */
    public void upload(StepBatch batch) {
        if (batch.numTokens() > maxTokens) {
            throw new IllegalArgumentException("batch of " + batch.numTokens() + " tokens exceeds the "
                    + maxTokens + "-token buffers");
        }
        numTokens = batch.numTokens();
        numSeqs = batch.numSeqs();
        numLogitRows = batch.logitRows().length;
        put(batch.tokens(), tokens);
        put(batch.positions(), positions);
        put(batch.slots(), slots);
        put(batch.tokenSeq(), tokenSeq);
        put(batch.logitRows(), logitRows);
        staging.asSlice(0, (long) numSeqs * maxBlocks * Integer.BYTES).fill((byte) 0);
        for (int s = 0; s < numSeqs; s++) {
            int[] table = batch.blockTables()[s];
            if (table.length > maxBlocks) {
                throw new IllegalArgumentException("sequence needs " + table.length + " KV blocks; at most "
                        + maxBlocks + " fit the configured maximum sequence length");
            }
            MemorySegment.copy(table, 0, staging, ValueLayout.JAVA_INT, (long) s * maxBlocks * Integer.BYTES, table.length);
        }
        backend.copyFromHost(staging, blockTables.rows(0, numSeqs));
    }

    private void put(int[] values, Tensor dst) {
        if (values.length == 0) {
            return;
        }
        MemorySegment.copy(values, 0, staging, ValueLayout.JAVA_INT, 0, values.length);
        backend.copyFromHost(staging, dst.rows(0, values.length));
    }

    public int numTokens() {
        return numTokens;
    }

    public int numLogitRows() {
        return numLogitRows;
    }

    public Tensor tokens() {
        return tokens.rows(0, numTokens);
    }

    public Tensor positions() {
        return positions.rows(0, numTokens);
    }

    public Tensor slots() {
        return slots.rows(0, numTokens);
    }

    public Tensor logitRows() {
        return logitRows.rows(0, numLogitRows);
    }

    /** Positions of rows {@code [from, to)}. */
    public Tensor positions(int from, int to) {
        return positions.rows(from, to);
    }

    public Tensor slots(int from, int to) {
        return slots.rows(from, to);
    }

    /** Attention metadata for rows {@code [from, to)} of the batch. */
    public PagedAttentionMeta attentionMeta(int from, int to) {
        return new PagedAttentionMeta(blockTables.rows(0, Math.max(1, numSeqs)), blockSize,
                tokenSeq.rows(from, to), positions.rows(from, to));
    }

    @Override
    public void close() {
        for (Tensor t : new Tensor[] {tokens, positions, slots, tokenSeq, logitRows, blockTables}) {
            backend.release(t);
        }
        arena.close();
    }
}
