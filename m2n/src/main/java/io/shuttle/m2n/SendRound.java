package io.shuttle.m2n;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The messages of one round posted by a sender: completes when every message is locally
 * complete (its memory may be reused), or fails at the first message that failed, naming its
 * destination. Progress-thread only, apart from the future.
 */
final class SendRound {
    final RoundKey key;
    final CompletableFuture<Void> future = new CompletableFuture<>();
    final long deadline;
    private final AtomicInteger inflightCounter;
    private int remaining;
    private final Object[] pendingPeers; // Link or InetSocketAddress, formatted only on failure

    SendRound(RoundKey key, int messages, long deadline, AtomicInteger inflightCounter) {
        this.key = key;
        this.remaining = messages;
        this.deadline = deadline;
        this.inflightCounter = inflightCounter;
        this.pendingPeers = new Object[messages];
        if (messages == 0) {
            future.complete(null);
        }
    }

    void track(int index, Object peer) {
        pendingPeers[index] = peer;
    }

    private static String describe(Object peer) {
        if (peer instanceof io.shuttle.m2n.transport.Link l) {
            return l.describe();
        }
        if (peer instanceof java.net.InetSocketAddress a) {
            return a.getHostString() + ":" + a.getPort();
        }
        return peer == null ? null : peer.toString();
    }

    /** One message finished with {@code status}. */
    void complete(int index, M2nStatus status, String detail) {
        Object peer = pendingPeers[index];
        pendingPeers[index] = null;
        remaining--;
        inflightCounter.decrementAndGet();
        if (status != M2nStatus.OK) {
            future.completeExceptionally(new M2nException(status, describe(peer), key, detail));
        } else if (remaining == 0) {
            future.complete(null);
        }
    }

    boolean done() {
        return remaining == 0;
    }

    /** The deadline passed: fail naming the first destination still pending. */
    void timeOut() {
        String first = null;
        for (Object p : pendingPeers) {
            if (p != null) {
                first = describe(p);
                break;
            }
        }
        future.completeExceptionally(new M2nException(M2nStatus.TIMEOUT, first, key, remaining
                + " message(s) not sent before the send timeout"));
    }
}
