package io.shuttle.m2n;

import io.shuttle.m2n.wire.PayloadType;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;

/**
 * One message of a round: where it goes, the routing metadata, and the row data as a native
 * address and length. The memory must stay valid and unchanged until the round's future
 * completes; it is read in place (a CUDA-aware UCX could read device memory the same way).
 */
public record Outgoing(
        InetSocketAddress to,
        int rowCount,
        int topK,
        int[] expertIds,
        float[] weights,
        PayloadType dtype,
        long address,
        long length) {

    public Outgoing {
        if (to == null) {
            throw new IllegalArgumentException("destination address is required");
        }
        if (length < 0 || (length > 0 && address == 0)) {
            throw new IllegalArgumentException("payload address " + address + " / length " + length + " is invalid");
        }
    }

    /** Rows without routing metadata, read from a native segment. */
    public static Outgoing rows(InetSocketAddress to, MemorySegment data, int rowCount, PayloadType dtype) {
        return routed(to, data, rowCount, 0, new int[0], new float[0], dtype);
    }

    /** Rows with per-row expert ids and weights ({@code rowCount * topK} each), from a native segment. */
    public static Outgoing routed(InetSocketAddress to, MemorySegment data, int rowCount, int topK, int[] expertIds,
            float[] weights, PayloadType dtype) {
        if (!data.isNative()) {
            throw new IllegalArgumentException("payload must be off-heap (a native MemorySegment), got a heap segment");
        }
        return new Outgoing(to, rowCount, topK, expertIds, weights, dtype, data.byteSize() == 0 ? 0 : data.address(),
                data.byteSize());
    }
}
