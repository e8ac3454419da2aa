package io.shuttle.m2n;

import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/** A complete round: one message from every sender that was asked for. Close it to free the buffers. */
public final class ReceivedRound implements AutoCloseable {
    private final RoundKey key;
    private final SortedMap<Integer, Message> messages;

    ReceivedRound(RoundKey key, Map<Integer, Message> messages) {
        this.key = key;
        this.messages = Collections.unmodifiableSortedMap(new TreeMap<>(messages));
    }

    public RoundKey key() {
        return key;
    }

    /** Messages by sender id, in sender order. */
    public SortedMap<Integer, Message> messages() {
        return messages;
    }

    public Message from(int sender) {
        Message m = messages.get(sender);
        if (m == null) {
            throw new IllegalArgumentException("round " + key + " has no message from node " + sender);
        }
        return m;
    }

    @Override
    public void close() {
        messages.values().forEach(Message::close);
    }
}
