package io.shuttle.m2n;

import io.shuttle.m2n.wire.MessageHeader;
import io.shuttle.m2n.wire.MessageKind;

/** Identifies one round: every message of a round carries the same kind, step, layer and micro-batch. */
public record RoundKey(MessageKind kind, long step, int layer, int microBatch) {

    public RoundKey {
        if (kind == null) {
            throw new IllegalArgumentException("round kind is required");
        }
    }

    public static RoundKey dispatch(long step, int layer, int microBatch) {
        return new RoundKey(MessageKind.DISPATCH, step, layer, microBatch);
    }

    public static RoundKey combine(long step, int layer, int microBatch) {
        return new RoundKey(MessageKind.COMBINE, step, layer, microBatch);
    }

    /** The round a received header belongs to. */
    public static RoundKey of(MessageHeader h) {
        return new RoundKey(h.kind(), h.step(), h.layer(), h.microBatch());
    }
}
