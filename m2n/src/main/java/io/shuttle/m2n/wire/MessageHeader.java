package io.shuttle.m2n.wire;

import java.util.Arrays;

/**
 * The header in front of every message's row data. Field meanings are the sender's: m2n does
 * not interpret step, layer, micro-batch or expert ids beyond matching rounds on them.
 *
 * @param kind          dispatch (attention → experts) or combine (experts → attention)
 * @param deploymentId  the deployment both ends belong to; a receiver drops foreign messages
 * @param step          decode step (monotonic per deployment)
 * @param layer         transformer layer
 * @param microBatch    micro-batch within the step (ping-pong pipeline slot)
 * @param sender        the sending node's id
 * @param rowCount      number of rows in the payload (0 is allowed: an empty message still
 *                      completes the sender's part of a round)
 * @param topK          expert slots per row; {@code expertIds} and {@code weights} hold
 *                      {@code rowCount * topK} entries, row-major
 * @param expertIds     per-row expert ids
 * @param weights       per-row routing weights, same layout as {@code expertIds}
 * @param dtype         element type of the row data
 * @param payloadLength bytes of row data following the header
 */
public record MessageHeader(
        MessageKind kind,
        long deploymentId,
        long step,
        int layer,
        int microBatch,
        int sender,
        int rowCount,
        int topK,
        int[] expertIds,
        float[] weights,
        PayloadType dtype,
        long payloadLength) {

    /** Largest top-k accepted; keeps a corrupt header from asking for a huge allocation. */
    public static final int MAX_TOP_K = 256;
    /** Largest row count accepted in one message. */
    public static final int MAX_ROWS = 1 << 24;

    public MessageHeader {
        if (kind == null || dtype == null || expertIds == null || weights == null) {
            throw new WireFormatException("header fields kind, dtype, expertIds and weights are required");
        }
        if (rowCount < 0 || rowCount > MAX_ROWS) {
            throw new WireFormatException("rowCount " + rowCount + " outside [0, " + MAX_ROWS + "]");
        }
        if (topK < 0 || topK > MAX_TOP_K) {
            throw new WireFormatException("topK " + topK + " outside [0, " + MAX_TOP_K + "]");
        }
        long slots = (long) rowCount * topK;
        if (expertIds.length != slots || weights.length != slots) {
            throw new WireFormatException("rowCount " + rowCount + " x topK " + topK + " = " + slots
                    + " routing slots, but expertIds has " + expertIds.length + " and weights has "
                    + weights.length);
        }
        if (payloadLength < 0) {
            throw new WireFormatException("payloadLength " + payloadLength + " is negative");
        }
        if (rowCount == 0 && payloadLength != 0) {
            throw new WireFormatException("0 rows but payloadLength " + payloadLength);
        }
        if (rowCount > 0 && (payloadLength % rowCount != 0 || (payloadLength / rowCount) % dtype.bytes() != 0)) {
            throw new WireFormatException("payloadLength " + payloadLength + " is not " + rowCount
                    + " whole rows of " + dtype);
        }
    }

    /** Bytes per row of payload (0 when there are no rows). */
    public long rowBytes() {
        return rowCount == 0 ? 0 : payloadLength / rowCount;
    }

    /** Encoded size of this header in bytes. */
    public int encodedLength() {
        return HeaderCodec.encodedLength(rowCount, topK);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MessageHeader h && kind == h.kind && deploymentId == h.deploymentId
                && step == h.step && layer == h.layer && microBatch == h.microBatch && sender == h.sender
                && rowCount == h.rowCount && topK == h.topK && dtype == h.dtype
                && payloadLength == h.payloadLength && Arrays.equals(expertIds, h.expertIds)
                && Arrays.equals(weights, h.weights);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(step) * 31 + layer * 17 + microBatch * 7 + sender + Arrays.hashCode(expertIds);
    }

    @Override
    public String toString() {
        return "MessageHeader[" + kind + " deployment=" + deploymentId + " step=" + step + " layer=" + layer
                + " microBatch=" + microBatch + " sender=" + sender + " rows=" + rowCount + " topK=" + topK
                + " dtype=" + dtype + " payload=" + payloadLength + "B]";
    }
}
