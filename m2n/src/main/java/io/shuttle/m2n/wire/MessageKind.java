package io.shuttle.m2n.wire;

/** Direction of a message within a layer: attention → experts (dispatch) or back (combine). */
public enum MessageKind {
    DISPATCH(1),
    COMBINE(2);

    private final int code;

    MessageKind(int code) {
        this.code = code;
    }

    /** The byte written on the wire. */
    public int code() {
        return code;
    }

    /** The kind for a wire code; throws {@link WireFormatException} for an unknown code. */
    public static MessageKind ofCode(int code) {
        return switch (code) {
            case 1 -> DISPATCH;
            case 2 -> COMBINE;
            default -> throw new WireFormatException("unknown message kind code " + code);
        };
    }
}
