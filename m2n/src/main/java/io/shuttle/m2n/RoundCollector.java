package io.shuttle.m2n;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Matches arriving messages to the rounds receivers wait for. A message may arrive before its
 * round is collected (kept until {@code unclaimedTtl}); a round completes when every expected
 * sender delivered, and fails — never silently partial — on its deadline or when an expected
 * sender dies, naming every missing sender. Progress-thread only.
 */
final class RoundCollector {
    private static final System.Logger LOG = System.getLogger(RoundCollector.class.getName());

    /** When the newest round collection began (System.nanoTime); progress thread only. */
    private long lastCollectNanos;

    private static final class Pending {
        final RoundKey key;
        final Set<Integer> expected;
        final Map<Integer, Message> received = new HashMap<>();
        final long deadline;
        final CompletableFuture<ReceivedRound> future;

        Pending(RoundKey key, Set<Integer> expected, long deadline, CompletableFuture<ReceivedRound> future) {
            this.key = key;
            this.expected = expected;
            this.deadline = deadline;
            this.future = future;
        }

        Set<Integer> missing() {
            Set<Integer> m = new HashSet<>(expected);
            m.removeAll(received.keySet());
            return m;
        }
    }

    private final Map<RoundKey, Pending> pending = new HashMap<>();
    private final Map<RoundKey, Map<Integer, Message>> unclaimed = new HashMap<>();
    private final long unclaimedTtlNanos;

    RoundCollector(long unclaimedTtlNanos) {
        this.unclaimedTtlNanos = unclaimedTtlNanos;
    }

    /** The key under which a {@link #collectLatest} round waits: step -1 never occurs on the wire. */
    static RoundKey anyStep(io.shuttle.m2n.wire.MessageKind kind, int layer, int microBatch) {
        return new RoundKey(kind, -1, layer, microBatch);
    }

    void offer(Message m) {
        RoundKey key = RoundKey.of(m.header());
        Pending p = pending.get(key);
        if (p == null) {
            Pending latest = pending.get(anyStep(key.kind(), key.layer(), key.microBatch()));
            if (latest != null && latest.expected.contains(m.sender())) {
                takeNewest(latest, m);
                completeIfDone(latest);
                return;
            }
        }
        if (p == null) {
            Message old = unclaimed.computeIfAbsent(key, k -> new HashMap<>()).put(m.sender(), m);
            if (old != null) {
                LOG.log(Level.WARNING, "node {0} sent round {1} twice; kept the newer message", m.sender(), key);
                old.close();
            }
            return;
        }
        if (!p.expected.contains(m.sender()) || p.received.containsKey(m.sender())) {
            LOG.log(Level.WARNING, "dropped a message from node {0} for round {1}: {2}", m.sender(), key,
                    p.expected.contains(m.sender()) ? "duplicate" : "sender not expected in this round");
            m.close();
            return;
        }
        p.received.put(m.sender(), m);
        completeIfDone(p);
    }

    void collect(RoundKey key, Set<Integer> senders, long deadline, CompletableFuture<ReceivedRound> future,
            Set<Integer> deadSenders) {
        if (pending.containsKey(key)) {
            future.completeExceptionally(new IllegalStateException("round " + key + " is already being collected"));
            return;
        }
        Pending p = new Pending(key, Set.copyOf(senders), deadline, future);
        Map<Integer, Message> early = unclaimed.remove(key);
        if (early != null) {
            for (Message m : early.values()) {
                if (p.expected.contains(m.sender())) {
                    p.received.put(m.sender(), m);
                } else {
                    LOG.log(Level.WARNING, "dropped a message from node {0} for round {1}: sender not expected",
                            m.sender(), key);
                    m.close();
                }
            }
        }
        pending.put(key, p);
        lastCollectNanos = System.nanoTime();
        if (completeIfDone(p) || deadSenders.isEmpty()) {
            return;
        }
        for (int s : p.expected) {
            if (!p.received.containsKey(s) && deadSenders.contains(s)) {
                fail(p, M2nStatus.PEER_DEAD, s, "node " + s + " is down");
                return;
            }
        }
    }

    /**
     * Like {@link #collect}, but for each sender takes its newest message of (kind, layer,
     * micro-batch) whatever its step, and drops its older ones: senders need not agree on step
     * numbers (an attention pod that (re)joins a running deployment counts its own steps), and a
     * message of a step its sender has abandoned never pairs with a live one.
     */
    void collectLatest(io.shuttle.m2n.wire.MessageKind kind, int layer, int microBatch, Set<Integer> senders,
            long deadline, CompletableFuture<ReceivedRound> future, Set<Integer> deadSenders) {
        RoundKey key = anyStep(kind, layer, microBatch);
        if (pending.containsKey(key)) {
            future.completeExceptionally(new IllegalStateException("round " + key + " is already being collected"));
            return;
        }
        Pending p = new Pending(key, Set.copyOf(senders), deadline, future);
        for (Iterator<Map.Entry<RoundKey, Map<Integer, Message>>> it = unclaimed.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<RoundKey, Map<Integer, Message>> e = it.next();
            RoundKey k = e.getKey();
            if (k.kind() != kind || k.layer() != layer || k.microBatch() != microBatch) {
                continue;
            }
            for (Iterator<Message> ms = e.getValue().values().iterator(); ms.hasNext(); ) {
                Message m = ms.next();
                if (p.expected.contains(m.sender())) {
                    ms.remove();
                    takeNewest(p, m);
                }
            }
            if (e.getValue().isEmpty()) {
                it.remove();
            }
        }
        pending.put(key, p);
        lastCollectNanos = System.nanoTime();
        if (completeIfDone(p) || deadSenders.isEmpty()) {
            return;
        }
        for (int s : p.expected) {
            if (!p.received.containsKey(s) && deadSenders.contains(s)) {
                fail(p, M2nStatus.PEER_DEAD, s, "node " + s + " is down");
                return;
            }
        }
    }

    /** Keeps the newer of {@code m} and what {@code p} already holds from its sender; closes the other. */
    private static void takeNewest(Pending p, Message m) {
        Message held = p.received.get(m.sender());
        if (held == null || held.header().step() < m.header().step()) {
            p.received.put(m.sender(), m);
            if (held != null) {
                held.close();
            }
        } else {
            m.close();
        }
    }

    /**
     * Where the senders are, for a receiver that lost track: for each sender, its newest step
     * among the uncollected messages of {@code kind}, and in it the earliest (layer, micro-batch);
     * the earliest of those over all senders. A key with step -1, or null when nothing waits.
     */
    RoundKey earliestCurrent(io.shuttle.m2n.wire.MessageKind kind) {
        Map<Integer, Long> newest = new HashMap<>();
        for (Map.Entry<RoundKey, Map<Integer, Message>> e : unclaimed.entrySet()) {
            if (e.getKey().kind() == kind) {
                for (int sender : e.getValue().keySet()) {
                    newest.merge(sender, e.getKey().step(), Math::max);
                }
            }
        }
        RoundKey best = null;
        for (Map.Entry<RoundKey, Map<Integer, Message>> e : unclaimed.entrySet()) {
            RoundKey k = e.getKey();
            if (k.kind() != kind) {
                continue;
            }
            for (int sender : e.getValue().keySet()) {
                if (newest.get(sender) == k.step() && (best == null || k.layer() < best.layer()
                        || (k.layer() == best.layer() && k.microBatch() < best.microBatch()))) {
                    best = anyStep(kind, k.layer(), k.microBatch());
                }
            }
        }
        return best;
    }

    /** Per sender: the earliest (layer, micro-batch) among its uncollected messages of its newest step. */
    Map<Integer, RoundKey> senderPositions(io.shuttle.m2n.wire.MessageKind kind) {
        Map<Integer, RoundKey> at = new HashMap<>();
        for (Map.Entry<RoundKey, Map<Integer, Message>> e : unclaimed.entrySet()) {
            RoundKey k = e.getKey();
            if (k.kind() != kind) {
                continue;
            }
            for (int sender : e.getValue().keySet()) {
                at.merge(sender, k, RoundCollector::pick);
            }
        }
        return Map.copyOf(at);
    }

    /** Of two keys of one sender: the one of the newer step, or within one step the earlier round. */
    private static RoundKey pick(RoundKey a, RoundKey b) {
        if (a.step() != b.step()) {
            return a.step() > b.step() ? a : b;
        }
        return order(a, b) <= 0 ? a : b;
    }

    /**
     * The smallest round of {@code kind} (by step, layer, micro-batch) with a message nobody has
     * collected yet, or null. Lets a receiver that (re)joins a running deployment find where the
     * senders are.
     */
    RoundKey oldestUnclaimed(io.shuttle.m2n.wire.MessageKind kind) {
        RoundKey best = null;
        for (RoundKey k : unclaimed.keySet()) {
            if (k.kind() == kind && (best == null || order(k, best) < 0)) {
                best = k;
            }
        }
        return best;
    }

    private static int order(RoundKey a, RoundKey b) {
        int c = Long.compare(a.step(), b.step());
        if (c == 0) {
            c = Integer.compare(a.layer(), b.layer());
        }
        return c != 0 ? c : Integer.compare(a.microBatch(), b.microBatch());
    }

    /** Gives up a round being collected (the receiver found it is waiting in the wrong place). */
    /** The senders a round being collected still waits for; empty when no such round is pending. */
    Set<Integer> missing(RoundKey key) {
        Pending p = pending.get(key);
        return p == null ? Set.of() : Set.copyOf(p.missing());
    }

    void cancel(RoundKey key) {
        Pending p = pending.get(key);
        if (p != null) {
            Set<Integer> missing = p.missing();
            fail(p, M2nStatus.TIMEOUT, missing.isEmpty() ? null : missing.iterator().next(),
                    "abandoned by the receiver");
        }
    }

    /** Fails every waiting round that still misses a message from {@code node}. */
    void senderDead(int node, M2nStatus status, String why) {
        for (Pending p : new ArrayList<>(pending.values())) {
            if (p.expected.contains(node) && !p.received.containsKey(node)) {
                fail(p, status, node, why);
            }
        }
    }

    /** Fails overdue rounds and drops stale unclaimed messages. */
    void expire(long now) {
        for (Pending p : new ArrayList<>(pending.values())) {
            if (now - p.deadline >= 0) {
                Set<Integer> missing = p.missing();
                fail(p, M2nStatus.TIMEOUT, missing.iterator().next(), "no message from " + missing.size()
                        + " of " + p.expected.size() + " senders before the deadline");
            }
        }
        Iterator<Map.Entry<RoundKey, Map<Integer, Message>>> it = unclaimed.entrySet().iterator();
        while (it.hasNext()) {
            Map<Integer, Message> byMsg = it.next().getValue();
            byMsg.values().removeIf(m -> {
                if (now - m.arrivedNanos > unclaimedTtlNanos) {
                    LOG.log(Level.WARNING, "dropped a message from node {0} for round {1}: nobody collected it in {2} s",
                            m.sender(), RoundKey.of(m.header()), TimeUnit.NANOSECONDS.toSeconds(unclaimedTtlNanos));
                    m.close();
                    return true;
                }
                return false;
            });
            if (byMsg.isEmpty()) {
                it.remove();
            }
        }
    }

    /** True while some round is being collected (its messages are expected). */
    boolean collecting() {
        return !pending.isEmpty();
    }

    /**
     * True while some round is being collected and the newest collection began less than
     * {@code windowNanos} before {@code now}: a reply is due soon. A collection that has waited
     * longer (an idle deployment: an expert pod always has its next round open) is not a reason
     * to poll, or an idle pod would poll after every housekeeping wake-up.
     */
    boolean collectingRecently(long now, long windowNanos) {
        return !pending.isEmpty() && now - lastCollectNanos < windowNanos;
    }

    /** Nanoseconds until the earliest round deadline (or {@code cap}). */
    long nanosToNextDeadline(long now, long cap) {
        long best = cap;
        for (Pending p : pending.values()) {
            best = Math.min(best, Math.max(0, p.deadline - now));
        }
        return best;
    }

    void closeAll(String why) {
        for (Pending p : new ArrayList<>(pending.values())) {
            Set<Integer> missing = p.missing();
            fail(p, M2nStatus.CLOSED, missing.isEmpty() ? null : missing.iterator().next(), why);
        }
        unclaimed.values().forEach(m -> m.values().forEach(Message::close));
        unclaimed.clear();
    }

    private boolean completeIfDone(Pending p) {
        if (p.received.size() < p.expected.size()) {
            return false;
        }
        pending.remove(p.key);
        if (!p.future.complete(new ReceivedRound(p.key, p.received))) {
            p.received.values().forEach(Message::close); // the caller gave up on the future
        }
        return true;
    }

    private void fail(Pending p, M2nStatus status, Integer peer, String why) {
        pending.remove(p.key);
        Set<Integer> missing = p.missing();
        if (p.key.step() < 0) {
            // A collectLatest round: the messages that did come go back, so the receiver's next
            // attempt (or earliestCurrent) still sees where those senders are.
            for (Message m : p.received.values()) {
                Message old = unclaimed.computeIfAbsent(RoundKey.of(m.header()), k -> new HashMap<>()).put(m.sender(), m);
                if (old != null) {
                    old.close();
                }
            }
        } else {
            p.received.values().forEach(Message::close);
        }
        p.future.completeExceptionally(new M2nException(status, peer == null ? null : "node " + peer, p.key, missing,
                why));
    }
}
