package io.shuttle.m2n.transport;

import io.shuttle.m2n.M2nStatus;

/** Completion of one send, called exactly once on the progress thread. */
@FunctionalInterface
public interface SendCompletion {
    void complete(M2nStatus status, String detail);
}
