package io.shuttle.m2n;

import java.util.Set;
import java.util.TreeSet;

/**
 * A failed m2n operation. It names the peer and the round (step, layer, micro-batch) it was
 * about, and for a collected round, every sender that was missing.
 */
public final class M2nException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final M2nStatus status;
    private final String peer;
    private final transient RoundKey round;
    private final Set<Integer> missingSenders;

    public M2nException(M2nStatus status, String peer, RoundKey round, Set<Integer> missingSenders, String detail) {
        super(format(status, peer, round, missingSenders, detail));
        this.status = status;
        this.peer = peer;
        this.round = round;
        this.missingSenders = Set.copyOf(missingSenders);
    }

    public M2nException(M2nStatus status, String peer, RoundKey round, String detail) {
        this(status, peer, round, Set.of(), detail);
    }

    public M2nStatus status() {
        return status;
    }

    /** The peer concerned: a node id ("node 3") or an address; null when none applies. */
    public String peer() {
        return peer;
    }

    /** The round concerned; null for operations outside a round. */
    public RoundKey round() {
        return round;
    }

    /** For a collected round: the senders whose message did not arrive. */
    public Set<Integer> missingSenders() {
        return missingSenders;
    }

    private static String format(M2nStatus status, String peer, RoundKey round, Set<Integer> missing, String detail) {
        StringBuilder sb = new StringBuilder(status.name());
        if (peer != null) {
            sb.append(" peer=").append(peer);
        }
        if (round != null) {
            sb.append(' ').append(round.kind().name().toLowerCase()).append(" step=").append(round.step())
                    .append(" layer=").append(round.layer()).append(" microBatch=").append(round.microBatch());
        }
        if (!missing.isEmpty()) {
            sb.append(" missing senders=").append(new TreeSet<>(missing));
        }
        if (detail != null && !detail.isEmpty()) {
            sb.append(": ").append(detail);
        }
        return sb.toString();
    }
}
