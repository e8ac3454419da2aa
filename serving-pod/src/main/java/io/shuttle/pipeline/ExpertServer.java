package io.shuttle.pipeline;

import io.shuttle.engine.ExpertStage;
import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.HostBackend;
import io.shuttle.kernels.Tensor;
import io.shuttle.m2n.M2nException;
import io.shuttle.m2n.M2nNode;
import io.shuttle.m2n.Message;
import io.shuttle.m2n.Outgoing;
import io.shuttle.m2n.ReceivedRound;
import io.shuttle.m2n.RoundKey;
import io.shuttle.m2n.transport.RegisteredBuffer;
import io.shuttle.m2n.wire.MessageHeader;
import io.shuttle.m2n.wire.MessageKind;
import io.shuttle.m2n.wire.PayloadType;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntFunction;

/**
 * The expert pod's loop. It walks the attention pods' lockstep order of rounds, (layer,
 * micro-batch) after (layer, micro-batch); for each one it gathers the message of every
 * attention pod taking part, runs the grouped expert FFN once over all their rows (aggregation
 * across attention pods is what makes the expert batch large), and sends each attention pod one
 * combined row per row it sent.
 *
 * <p>Who takes part is learnt, not configured, so attention pods can join and leave a running
 * deployment (scale-out, scale-in, restarts) without the expert pods restarting:
 * <ul>
 *   <li>an attention pod that opened a link here joins when this loop reaches the round its
 *       oldest waiting message is for; until then each of its rounds is answered on its own at
 *       once, so it never waits for a later cycle (which could deadlock against another expert
 *       pod that already counts it as a member);</li>
 *   <li>a member that went back to an earlier round (another expert pod failed its step) is set
 *       aside at once and treated like a newcomer: the others never wait for it;</li>
 *   <li>a member that closes its link, or sends nothing for a round within the round timeout, is
 *       dropped and the round goes on without it; it rejoins when it sends again.</li>
 * </ul>
 * Replies go to the address each sender's link announced, so expert pods need no list of
 * attention pods. Rows routed to an expert this pod does not hold (the sender's placement
 * differs from this pod's, e.g. during a placement change) are refused, never silently dropped.
 */
public final class ExpertServer implements AutoCloseable {
    private static final Logger LOG = System.getLogger(ExpertServer.class.getName());

    /** {@code topK} of an empty reply (unused there): no attention pod had rows in the round. */
    public static final int REPLY_IDLE = 0;
    /** {@code topK} of an empty reply: other attention pods had rows (an idle pod keeps pace). */
    public static final int REPLY_BUSY = 1;
    /** {@code topK} of an empty reply to rows that were sent: refused, routed to experts not held here. */
    public static final int REPLY_REFUSED = 2;

    private final M2nNode node;
    private final IntFunction<ExpertStage> stageForRows;
    private final Backend backend;
    private final int layers;
    private final int microBatches;
    private final int hidden;
    private final int topK;
    private final Duration roundTimeout;
    /** The serving thread's wait for rounds: yields before blocking, adapted to recent rounds. */
    private final SpinWait spinWait = new SpinWait();
    private final Arena arena = Arena.ofShared();
    private ExpertStage stage;
    private int capacity;
    private Tensor x;
    private Tensor ids;
    private Tensor weights;
    private Tensor out;
    // Two send buffers used in turn: a round's combine is posted without waiting for it to leave;
    // the buffer is only waited for when it comes round again, two rounds later.
    private final RegisteredBuffer[] sendBuffers = new RegisteredBuffer[2];
    private final CompletableFuture<?>[] inFlight = new CompletableFuture<?>[2];
    private int turn;
    private MemorySegment hostOut;
    private MemorySegment staging;
    private final Set<Integer> members = new HashSet<>(); // the serving thread's own
    private volatile Set<Integer> membersView = Set.of();
    private volatile boolean stopped;
    private volatile RoundTrace trace = RoundTrace.NONE;
    private volatile long roundsServed;
    private volatile long lastRoundNanos;
    private final LongAdder computeNanos = new LongAdder();
    /** Rounds that had rows for this pod (idle lockstep rounds and rounds routed elsewhere have none). */
    private final LongAdder busyRounds = new LongAdder();
    private final LongAdder waitNanos = new LongAdder();
    /**
     * The part of {@link #waitNanos} spent waiting for layer-0 rounds: the attention pods' step
     * boundary (lm_head, sampling, scheduling and layer 0's attention of a micro-batch, while
     * this pod has at most the other micro-batches' last layer to work on).
     */
    private final LongAdder waitLayer0Nanos = new LongAdder();
    private final LongAdder combineNanos = new LongAdder();
    private final LongAdder rowsServed = new LongAdder();
    private final LongAdder refusedMessages = new LongAdder();
    private final LongAdder joins = new LongAdder();
    private final LongAdder drops = new LongAdder();
    private final LongAdder catchUps = new LongAdder();

    /**
     * @param stageForRows makes the expert stage for a round of up to that many rows (the
     *                     weights are shared; a larger stage is made when more attention pods join)
     * @param initialRows  rows per round to size buffers for at first
     */
    public ExpertServer(M2nNode node, IntFunction<ExpertStage> stageForRows, Backend backend, int layers,
                        int microBatches, int hidden, int topK, int initialRows, Duration roundTimeout) {
        this.node = node;
        this.stageForRows = stageForRows;
        this.backend = backend;
        this.layers = layers;
        this.microBatches = microBatches;
        this.hidden = hidden;
        this.topK = topK;
        this.roundTimeout = roundTimeout;
        allocate(Math.max(1, initialRows));
    }

    private void allocate(int rows) {
        capacity = rows;
        stage = stageForRows.apply(rows);
        x = backend.allocate(DType.F32, rows, hidden);
        ids = backend.allocate(DType.I32, rows, topK);
        weights = backend.allocate(DType.F32, rows, topK);
        out = backend.allocate(DType.F32, rows, hidden);
        // Combined rows leave from registered memory, so the transport reads them in place.
        for (int i = 0; i < 2; i++) {
            sendBuffers[i] = node.allocate((long) rows * hidden * Float.BYTES);
        }
        hostOut = sendBuffers[turn].segment();
        staging = arena.allocate((long) rows * Math.max(hidden, topK) * Float.BYTES, 64);
    }

    /** Makes room for a round of {@code rows} rows: more attention pods joined than the buffers were sized for. */
    private void grow(int rows) {
        int next = Math.max(rows, capacity * 2);
        LOG.log(Level.INFO, "expert round buffers grow from " + capacity + " to " + next + " rows ("
                + members.size() + " attention pods)");
        awaitSent(0);
        awaitSent(1);
        release();
        allocate(next);
    }

    private void release() {
        stage.close();
        for (Tensor t : new Tensor[] {x, ids, weights, out}) {
            backend.release(t);
        }
        for (RegisteredBuffer b : sendBuffers) {
            b.close();
        }
    }

    /** Serves rounds until {@link #stop()}. */
    public void serve() {
        int layer = 0;
        int mb = 0;
        while (!stopped) {
            catchUpAndAdmit(layer, mb);
            if (members.isEmpty()) {
                RoundKey at = earliestWaiting();
                if (at != null) {
                    layer = at.layer();
                    mb = at.microBatch();
                }
                continue;
            }
            if (serveRound(layer, mb, members, true)) {
                if (++mb == microBatches) {
                    mb = 0;
                    layer = (layer + 1) % layers;
                }
            }
        }
    }

    /**
     * Serves the connected attention pods that are not members: one whose oldest waiting message
     * is for this loop's round (layer, micro-batch) is admitted; any other waiting round of a
     * non-member (it joined after this pod passed its round, restarted its step, or runs at
     * another offset in the step) is served on its own at once. A non-member is never left
     * waiting for a later cycle: another expert pod may count it as a member and wait for its
     * next message, which it sends only when this pod has answered, while this pod's members wait
     * for that other pod. Being answered at once, a non-member keeps pace with the members
     * and is admitted when its round and this loop's coincide.
     */
    private void catchUpAndAdmit(int layer, int mb) {
        for (int guard = 0; guard < 4 * layers * microBatches && !stopped; guard++) {
            Set<Integer> peers = node.inboundPeers();
            if (members.containsAll(peers)) {
                return;
            }
            Map<Integer, RoundKey> at = positions();
            boolean caughtUp = false;
            for (int p : peers) {
                RoundKey k = at.get(p);
                if (members.contains(p) || k == null) {
                    continue;
                }
                if (k.layer() == layer && k.microBatch() == mb) {
                    members.add(p);
                    membersView = Set.copyOf(members);
                    joins.increment();
                    LOG.log(Level.INFO, "attention node " + p + " joins at layer " + layer + " micro-batch " + mb
                            + " (its step " + k.step() + "); " + members.size() + " attention pods now");
                } else {
                    // Behind or ahead of this loop: answered on its own now, never left waiting. Another
                    // expert pod may count it as a member and wait for its next round, while this loop
                    // waits for members that wait for that other pod: leaving it for later deadlocks.
                    serveRound(k.layer(), k.microBatch(), Set.of(p), false);
                    catchUps.increment();
                    caughtUp = true;
                }
            }
            if (!caughtUp) {
                return;
            }
        }
    }

    /** With no members: the earliest round a connected sender waits at, or null after a short pause. */
    private RoundKey earliestWaiting() {
        RoundKey best = null;
        for (RoundKey k : positions().values()) {
            if (best == null || before(k, best.layer(), best.microBatch())) {
                best = k;
            }
        }
        if (best == null) {
            pause(2);
        }
        return best;
    }

    private Map<Integer, RoundKey> positions() {
        try {
            return node.senderPositions(MessageKind.DISPATCH).get(5, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            LOG.log(Level.WARNING, "cannot see where the attention pods are: " + e);
            pause(10);
            return Map.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopped = true;
            return Map.of();
        }
    }

    private static boolean before(RoundKey k, int layer, int mb) {
        return k.layer() < layer || (k.layer() == layer && k.microBatch() < mb);
    }

    /**
     * One round: gather from {@code senders}, compute, combine back. Returns false when the
     * members changed instead. With {@code watch} the wait watches the other senders (members
     * that went back, newcomers that can join or need catching up) and gives the round up for them.
     */
    boolean serveRound(int layer, int mb, Set<Integer> senders, boolean watch) {
        long t0 = System.nanoTime();
        RoundKey key = RoundKey.dispatch(ANY_STEP, layer, mb);
        ReceivedRound round;
        try {
            round = gather(layer, mb, senders, watch);
            if (round == null) {
                return false;
            }
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            Set<Integer> missing = cause instanceof M2nException m ? m.missingSenders() : Set.of();
            if (cause instanceof M2nException m && m.status() != io.shuttle.m2n.M2nStatus.TIMEOUT) {
                // A peer's link went down: only the missing senders that are gone leave; the others
                // simply had not sent yet, and the round is gathered again at once.
                Set<Integer> connected = node.inboundPeers();
                missing = missing.stream().filter(s -> !connected.contains(s)).collect(java.util.stream.Collectors.toSet());
            }
            if (!missing.isEmpty()) {
                trace.missingSenders(ANY_STEP, layer, mb, missing);
                drop(missing, "sent nothing for layer " + layer + " micro-batch " + mb + ": " + cause.getMessage());
            } else if (cause instanceof M2nException) {
                return false;
            } else {
                LOG.log(Level.WARNING, "round " + key + " failed: " + cause);
                pause(10);
            }
            return false;
        } catch (TimeoutException e) {
            LOG.log(Level.WARNING, "round " + key + " timed out locally");
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopped = true;
            return false;
        }
        long waited = System.nanoTime();
        waitNanos.add(waited - t0);
        if (layer == 0) {
            waitLayer0Nanos.add(waited - t0);
        }
        // Traces show the newest sender step of the round.
        long step = round.messages().values().stream().mapToLong(m -> m.header().step()).max().orElse(ANY_STEP);
        trace.phase("wait attention", step, layer, mb, t0, waited);
        try (round) {
            long t1 = System.nanoTime();
            int rows = compute(step, layer, mb, round);
            long t2 = System.nanoTime();
            combine(step, layer, mb, round, rows);
            long t3 = System.nanoTime();
            computeNanos.add(t2 - t1);
            combineNanos.add(t3 - t2);
            trace.phase("expert compute", step, layer, mb, t1, t2);
            trace.phase("combine", step, layer, mb, t2, t3);
            rowsServed.add(rows);
            if (rows > 0) {
                busyRounds.increment();
            }
        }
        roundsServed++;
        lastRoundNanos = System.nanoTime();
        return true;
    }

    /**
     * Collects (layer, micro-batch) from every member, each at its own newest step. While it
     * waits it watches where the missing members are: one whose waiting message is for another
     * round (it restarted its step because another expert pod failed it, or it still waits for a
     * round of its previous step) cannot come here before this round times out, so it is set
     * aside and the round is gathered again without it (null is returned; the messages that came
     * are given back and taken again at once).
     */
    private ReceivedRound gather(int layer, int mb, Set<Integer> senders, boolean watch)
            throws ExecutionException, TimeoutException, InterruptedException {
        CompletableFuture<ReceivedRound> f =
                node.collectLatest(MessageKind.DISPATCH, layer, mb, Set.copyOf(senders), roundTimeout);
        long deadline = System.nanoTime() + roundTimeout.toNanos() + 1_000_000_000L;
        node.beginWait();
        try {
            return awaitGathered(f, layer, mb, deadline, watch);
        } finally {
            node.endWait();
        }
    }

    private ReceivedRound awaitGathered(CompletableFuture<ReceivedRound> f, int layer, int mb, long deadline, boolean watch)
            throws ExecutionException, TimeoutException, InterruptedException {
        long start = spinWait.begin(f, node);
        while (true) {
            try {
                ReceivedRound round = f.get(20, TimeUnit.MILLISECONDS);
                spinWait.end(start);
                return round;
            } catch (TimeoutException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                if (!watch) {
                    continue;
                }
                Set<Integer> behind = new HashSet<>();
                boolean newcomer = false;
                Set<Integer> connected = node.inboundPeers();
                Set<Integer> notSent = null;
                for (Map.Entry<Integer, RoundKey> at : positions().entrySet()) {
                    RoundKey k = at.getValue();
                    if (members.contains(at.getKey()) && (k.layer() != layer || k.microBatch() != mb)) {
                        // A member that has not sent this round but has sent another is out of step
                        // (it went back, or it was admitted while a round of its previous step was
                        // still waiting here): it cannot send this round before this one times out.
                        // A member that has sent this round may legitimately be at the next step's
                        // first rounds already: its micro-batches run across step boundaries.
                        if (notSent == null) {
                            notSent = missingSenders(layer, mb);
                        }
                        if (notSent.contains(at.getKey())) {
                            behind.add(at.getKey());
                        }
                    } else if (!members.contains(at.getKey()) && connected.contains(at.getKey())) {
                        newcomer = true; // it can join this round, or must be answered on its own first
                    }
                }
                if (!behind.isEmpty() || newcomer) {
                    node.cancelCollect(RoundKey.dispatch(ANY_STEP, layer, mb));
                    try {
                        ReceivedRound r = f.get(5, TimeUnit.SECONDS);
                        return r; // completed before the cancel: every member was there after all
                    } catch (ExecutionException abandoned) {
                        if (!behind.isEmpty()) {
                            setAside(behind, layer, mb);
                        }
                        return null;
                    }
                }
            }
        }
    }

    private Set<Integer> missingSenders(int layer, int mb) {
        try {
            return node.missingSenders(RoundKey.dispatch(ANY_STEP, layer, mb)).get(5, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            return Set.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Set.of();
        }
    }

    private void setAside(Set<Integer> behind, int layer, int mb) {
        members.removeAll(behind);
        membersView = Set.copyOf(members);
        LOG.log(Level.INFO, "attention nodes " + behind + " are at another round (they went back, or wait for an earlier one); layer " + layer
                + " micro-batch " + mb + " goes on without them and they rejoin when this pod gets there");
    }

    private void drop(Set<Integer> gone, String why) {
        if (!members.removeAll(gone)) {
            LOG.log(Level.WARNING, "a catch-up round of attention nodes " + gone + " failed (" + why + ")");
            return;
        }
        membersView = Set.copyOf(members);
        drops.add(gone.size());
        LOG.log(Level.WARNING, "attention nodes " + gone + " left the round set (" + why + "); "
                + members.size() + " remain; a node rejoins when it sends again");
    }

    /** Step of a round key that means "each sender's newest" ({@link M2nNode#collectLatest}). */
    static final long ANY_STEP = -1;

    /** Records every round's phases from now on. */
    public void trace(RoundTrace t) {
        this.trace = t;
    }

    /** When a round was last served (System.nanoTime), 0 if never: readiness. */
    public long lastRoundNanos() {
        return lastRoundNanos;
    }

    /** The attention nodes whose rounds this pod serves now. */
    public Set<Integer> members() {
        return membersView;
    }

    public long roundsServed() {
        return roundsServed;
    }

    /** Totals for {@code /stats}: rounds, rows, time waiting for, computing and combining rounds, membership changes. */
    public Map<String, Object> stats() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rounds", roundsServed);
        m.put("rows", rowsServed.sum());
        m.put("busy_rounds", busyRounds.sum());
        m.put("wait_ns", waitNanos.sum());
        m.put("wait_layer0_ns", waitLayer0Nanos.sum());
        m.put("compute_ns", computeNanos.sum());
        m.put("combine_ns", combineNanos.sum());
        m.put("attention_pods", membersView.size());
        m.put("joins", joins.sum());
        m.put("drops", drops.sum());
        m.put("catch_up_rounds", catchUps.sum());
        m.put("refused_messages", refusedMessages.sum());
        m.put("jit_compile_ms", io.shuttle.engine.PipelineStats.jitCompileMillis());
        m.put("time_ns", System.nanoTime());
        return m;
    }

    /**
     * Concatenates the rows of every sender whose rows this pod can serve (in sender order),
     * runs the expert stage once and leaves the results in {@code hostOut}. Returns the row count.
     */
    private int compute(long step, int layer, int mb, ReceivedRound round) {
        int total = 0;
        for (Message m : round.messages().values()) {
            MessageHeader h = m.header();
            if (h.rowCount() > 0 && (h.topK() != topK || h.dtype() != PayloadType.F32 || h.rowBytes() != (long) hidden * Float.BYTES)) {
                throw new IllegalStateException("round (" + step + ", " + layer + "): node " + m.sender() + " sent rows of "
                        + h.rowBytes() + " bytes, top-" + h.topK() + " " + h.dtype() + "; this pod serves hidden "
                        + hidden + " F32, top-" + topK + " (are both sides on the same model?)");
            }
            if (servable(m)) {
                total += h.rowCount();
            }
        }
        if (total > capacity) {
            grow(total);
        }
        int rows = 0;
        Message only = null; // the one message with rows to serve, if there is just one
        int senders = 0;
        for (Message m : round.messages().values()) {
            MessageHeader h = m.header();
            if (h.rowCount() == 0 || !servable(m)) {
                continue;
            }
            senders++;
            only = m;
            MemorySegment.copy(h.expertIds(), 0, staging, ValueLayout.JAVA_INT, 0, h.expertIds().length);
            trace.expertIds(h.expertIds());
            backend.copyFromHost(staging, ids.rows(rows, rows + h.rowCount()));
            MemorySegment.copy(h.weights(), 0, staging, ValueLayout.JAVA_FLOAT, 0, h.weights().length);
            backend.copyFromHost(staging, weights.rows(rows, rows + h.rowCount()));
            rows += h.rowCount();
        }
        // On a host backend the rows are read where they arrived when one attention pod sent
        // them all, and the result is written straight into the send buffer: two fewer copies of
        // a round's rows (1 MiB each at 512 rows) on the path between the pools.
        boolean inPlace = backend instanceof HostBackend;
        Tensor input;
        if (inPlace && senders == 1) {
            input = Tensor.of(only.payload().asSlice(0, (long) rows * hidden * Float.BYTES), DType.F32, rows, hidden);
        } else {
            int at = 0;
            for (Message m : round.messages().values()) {
                int n = m.header().rowCount();
                if (n > 0 && servable(m)) {
                    backend.copyFromHost(m.payload(), x.rows(at, at + n));
                    at += n;
                }
            }
            input = x.rows(0, rows);
        }
        turn ^= 1;
        awaitSent(turn); // the buffer of two rounds ago must have left before it is overwritten
        hostOut = sendBuffers[turn].segment();
        Tensor result = inPlace
                ? Tensor.of(hostOut.asSlice(0, (long) rows * hidden * Float.BYTES), DType.F32, rows, hidden)
                : out.rows(0, rows);
        // Odd micro-batches walk the experts backwards, starting on the weights the previous
        // micro-batch of the layer read last (still in cache); same result bit for bit.
        stage.forward(layer, input, ids.rows(0, rows), weights.rows(0, rows), result, (mb & 1) == 1);
        if (!inPlace && rows > 0) {
            backend.copyToHost(out.rows(0, rows), hostOut);
        }
        return rows;
    }

    /** Whether every expert the message routes to is held here (slots of other pods are -1). */
    private boolean servable(Message m) {
        for (int e : m.header().expertIds()) {
            if (e != -1 && (e < 0 || !stage.weights().holds(e))) {
                return false;
            }
        }
        return true;
    }

    /** Sends each attention pod its slice of the combined rows (an empty message if it sent none, or was refused). */
    private void combine(long step, int layer, int mb, ReceivedRound round, int rows) {
        long offset = 0;
        long rowBytes = (long) hidden * Float.BYTES;
        // Each reply carries its sender's own step (senders number steps independently). Posted,
        // not awaited: the next round's collect starts at once (see awaitSent).
        Map<Long, List<Outgoing>> byStep = new TreeMap<>();
        for (Message m : round.messages().values()) {
            int n = m.header().rowCount();
            InetSocketAddress to = node.peerListenAddress(m.sender()).orElse(null);
            boolean served = n > 0 && servable(m);
            if (to == null) { // its link went down since: nobody to answer
                offset += served ? n * rowBytes : 0;
                continue;
            }
            Outgoing reply;
            if (served) {
                reply = Outgoing.rows(to, hostOut.asSlice(offset, n * rowBytes), n, PayloadType.F32);
                offset += n * rowBytes;
            } else {
                int flag = n > 0 ? REPLY_REFUSED : rows > 0 ? REPLY_BUSY : REPLY_IDLE;
                if (flag == REPLY_REFUSED) {
                    refused(m, step, layer);
                }
                reply = new Outgoing(to, 0, flag, new int[0], new float[0], PayloadType.F32, 0, 0);
            }
            byStep.computeIfAbsent(m.header().step(), k -> new ArrayList<>()).add(reply);
        }
        List<CompletableFuture<Void>> sends = new ArrayList<>();
        byStep.forEach((s, list) -> sends.add(node.combine(s, layer, mb, list)));
        RoundKey key = RoundKey.dispatch(step, layer, mb);
        inFlight[turn] = CompletableFuture.allOf(sends.toArray(CompletableFuture[]::new))
                .whenComplete((ok, error) -> {
                    if (error != null) {
                        LOG.log(Level.WARNING, "combine of round " + key + " failed: " + error);
                    }
                });
    }

    private void refused(Message m, long step, int layer) {
        refusedMessages.increment();
        long n = refusedMessages.sum();
        if (n <= 10 || n % 1000 == 0) { // a placement change refuses many rounds; the log shows a few
            LOG.log(Level.WARNING, "refused " + m.header().rowCount() + " rows of attention node " + m.sender()
                    + " (its step " + m.header().step() + ", layer " + layer + "): they are routed to experts this "
                    + "pod does not hold; the sender's placement differs from this pod's (" + n + " refused so far)");
        }
    }

    private void awaitSent(int buffer) {
        CompletableFuture<?> f = inFlight[buffer];
        if (f == null) {
            return;
        }
        inFlight[buffer] = null;
        if (f.isDone()) {
            return;
        }
        node.beginWait();
        try {
            node.driveUntil(f, SpinWait.MIN_NANOS);
            f.get(roundTimeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            // Logged by the completion handler; the buffer is free either way.
        } catch (TimeoutException e) {
            LOG.log(Level.WARNING, "a combine did not leave within " + roundTimeout + "; reusing its buffer anyway");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopped = true;
        } finally {
            node.endWait();
        }
    }

    private void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopped = true;
        }
    }

    public void stop() {
        stopped = true;
    }

    @Override
    public void close() {
        stop();
        awaitSent(0);
        awaitSent(1);
        release();
        arena.close();
    }
}
