package io.shuttle.m2n.transport;

import io.shuttle.m2n.M2nStatus;

/** A connection that did not pass the handshake; the status says why (auth, protocol, connect). */
public final class HandshakeException extends Exception {
    private static final long serialVersionUID = 1L;
    private final M2nStatus status;

    public HandshakeException(M2nStatus status, String message) {
        super(message);
        this.status = status;
    }

    public M2nStatus status() {
        return status;
    }
}
