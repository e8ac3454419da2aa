package io.shuttle.m2n;

import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/** A complete round: one message from every sender that was asked for. Close it to free the buffers. */
public final class ReceivedRound implements AutoCloseable {
    private final RoundKey key;
    /** Handed over by the collector, which keeps no reference to it. */
    private final Map<Integer, Message> bySender;
    /** Built on first use: most receivers only ask {@link #from}, on every round's path. */
    private SortedMap<Integer, Message> sorted;

    ReceivedRound(RoundKey key, Map<Integer, Message> messages) {
        this.key = key;
        this.bySender = messages;
    }

    public RoundKey key() {
        return key;
    }

    /** Messages by sender id, in sender order. */
    public synchronized SortedMap<Integer, Message> messages() {
        if (sorted == null) {
            sorted = Collections.unmodifiableSortedMap(new TreeMap<>(bySender));
        }
        return sorted;
    }

    public Message from(int sender) {
        Message m = bySender.get(sender);
        if (m == null) {
            throw new IllegalArgumentException("round " + key + " has no message from node " + sender);
        }
        return m;
    }

    @Override
    public void close() {
        bySender.values().forEach(Message::close);
    }
}
