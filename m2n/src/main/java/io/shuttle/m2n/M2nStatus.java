package io.shuttle.m2n;

/** Every outcome of an m2n operation. One enum, never a bare status code. */
public enum M2nStatus {
    /** Completed. */
    OK,
    /** A round or send did not complete within its deadline. */
    TIMEOUT,
    /** The peer's connection was lost (process died, closed, or stopped answering heartbeats). */
    PEER_DEAD,
    /** The peer could not be reached (nothing listening, connect timed out). */
    CONNECT_FAILED,
    /** The challenge–response on the shared secret failed, in either direction. */
    AUTH_FAILED,
    /** A bounded resource (in-flight sends, receive pool) is full; retry later. */
    NO_RESOURCE,
    /** The peer sent something that breaks the wire format or the handshake. */
    PROTOCOL_ERROR,
    /** The transport reported an error not covered above. */
    TRANSPORT_ERROR,
    /** The node was closed before the operation completed. */
    CLOSED
}
