package io.shuttle.m2n.wire;

/** A header that cannot be decoded or that breaks an invariant of the wire format. */
public final class WireFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public WireFormatException(String message) {
        super(message);
    }
}
