package io.shuttle.m2n.wire;

/**
 * Element type of the row data that follows a header. The code is the byte written on the wire;
 * codes are never reused, so an old peer rejects a type it does not know instead of misreading it.
 */
public enum PayloadType {
    BF16(1, 2),
    F16(2, 2),
    F32(3, 4),
    U8(4, 1);

    private final int code;
    private final int bytes;

    PayloadType(int code, int bytes) {
        this.code = code;
        this.bytes = bytes;
    }

    /** The byte written on the wire. */
    public int code() {
        return code;
    }

    private static final PayloadType[] VALUES = values();

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** The type for a wire code; throws {@link WireFormatException} for an unknown code. */
    public static PayloadType ofCode(int code) {
        for (PayloadType t : VALUES) {
            if (t.code == code) {
                return t;
            }
        }
        throw new WireFormatException("unknown payload dtype code " + code);
    }
}
