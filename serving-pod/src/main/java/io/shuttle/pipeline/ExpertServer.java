package io.shuttle.pipeline;

import io.shuttle.engine.ExpertStage;
import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import io.shuttle.m2n.M2nException;
import io.shuttle.m2n.M2nNode;
import io.shuttle.m2n.Message;
import io.shuttle.m2n.Outgoing;
import io.shuttle.m2n.ReceivedRound;
import io.shuttle.m2n.RoundKey;
import io.shuttle.m2n.wire.MessageHeader;
import io.shuttle.m2n.wire.PayloadType;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The expert pod's loop. Rounds come in the attention pods' lockstep order
 * (step, layer, micro-batch); for each one it gathers the messages of all attention pods, runs
 * the grouped expert FFN once over all their rows (aggregation across attention pods is what
 * makes the expert batch large), and sends each attention pod one combined row per row it sent.
 */
public final class ExpertServer implements AutoCloseable {
    private static final Logger LOG = System.getLogger(ExpertServer.class.getName());

    private final M2nNode node;
    private final ExpertStage stage;
    private final Backend backend;
    private final Map<Integer, InetSocketAddress> attentionPods; // node id → address
    private final Set<Integer> senders;
    private final int layers;
    private final int microBatches;
    private final int hidden;
    private final int topK;
    private final int maxRows;
    private final Duration roundTimeout;
    private final Tensor x;
    private final Tensor ids;
    private final Tensor weights;
    private final Tensor out;
    private final Arena arena = Arena.ofShared();
    // Two send buffers used in turn: a round's combine is posted without waiting for it to leave;
    // the buffer is only waited for when it comes round again, two rounds later.
    private final io.shuttle.m2n.transport.RegisteredBuffer[] sendBuffers = new io.shuttle.m2n.transport.RegisteredBuffer[2];
    private final java.util.concurrent.CompletableFuture<?>[] inFlight = new java.util.concurrent.CompletableFuture<?>[2];
    private int turn;
    private MemorySegment hostOut;
    private final MemorySegment staging;
    private volatile boolean stopped;
    private volatile RoundTrace trace = RoundTrace.NONE;
    private volatile long roundsServed;
    private final java.util.concurrent.atomic.LongAdder computeNanos = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder waitNanos = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder combineNanos = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder rowsServed = new java.util.concurrent.atomic.LongAdder();

    public ExpertServer(M2nNode node, ExpertStage stage, Backend backend, Map<Integer, InetSocketAddress> attentionPods,
                        int layers, int microBatches, int hidden, int topK, int maxRows, Duration roundTimeout) {
        this.node = node;
        this.stage = stage;
        this.backend = backend;
        this.attentionPods = Map.copyOf(attentionPods);
        this.senders = Set.copyOf(attentionPods.keySet());
        this.layers = layers;
        this.microBatches = microBatches;
        this.hidden = hidden;
        this.topK = topK;
        this.maxRows = maxRows;
        this.roundTimeout = roundTimeout;
        this.x = backend.allocate(DType.F32, maxRows, hidden);
        this.ids = backend.allocate(DType.I32, maxRows, topK);
        this.weights = backend.allocate(DType.F32, maxRows, topK);
        this.out = backend.allocate(DType.F32, maxRows, hidden);
        // Combined rows leave from registered memory, so the transport reads them in place.
        for (int i = 0; i < 2; i++) {
            sendBuffers[i] = node.allocate((long) maxRows * hidden * Float.BYTES);
        }
        this.hostOut = sendBuffers[0].segment();
        this.staging = arena.allocate((long) maxRows * Math.max(hidden, topK) * Float.BYTES, 64);
    }

    /**
     * Serves rounds until {@link #stop()}: (layer, micro-batch) after (layer, micro-batch), each
     * gathering every attention pod's newest message for it whatever that pod's step number, so
     * attention pods that started (or restarted) at different times need not agree on steps. A
     * failed round fails the step of every attention pod in it, and they start their next step at
     * layer 0; this pod then goes to the earliest round its senders are at.
     */
    public void serve() {
        int layer = 0;
        int mb = 0;
        while (!stopped) {
            if (serveRound(RoundKey.dispatch(ANY_STEP, layer, mb))) {
                if (++mb == microBatches) {
                    mb = 0;
                    layer = (layer + 1) % layers;
                }
                continue;
            }
            RoundKey at = findCurrentRound();
            layer = at == null ? 0 : at.layer();
            mb = at == null ? 0 : at.microBatch();
        }
    }

    /**
     * Collects (layer, micro-batch) from every attention pod, each at its own newest step. While
     * it waits it watches where the senders are: when one has a newest-step message for an earlier
     * round, that sender restarted its step (another expert pod failed it) and will not come here
     * before this round times out, so the round is given up at once and the caller resyncs.
     */
    private ReceivedRound collectLatest(RoundKey key) throws ExecutionException, TimeoutException, InterruptedException {
        java.util.concurrent.CompletableFuture<ReceivedRound> f =
                node.collectLatest(key.kind(), key.layer(), key.microBatch(), senders, roundTimeout);
        long deadline = System.nanoTime() + roundTimeout.toNanos() + 1_000_000_000L;
        while (true) {
            try {
                return f.get(20, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                RoundKey at = node.earliestCurrent(key.kind()).get(1, TimeUnit.SECONDS).orElse(null);
                if (at != null && (at.layer() < key.layer()
                        || (at.layer() == key.layer() && at.microBatch() < key.microBatch()))) {
                    node.cancelCollect(RoundKey.dispatch(ANY_STEP, key.layer(), key.microBatch()));
                    return f.get(5, TimeUnit.SECONDS); // fails: "abandoned by the receiver"
                }
            }
        }
    }

    /** Step of a round key that means "each sender's newest" ({@link M2nNode#collectLatest}). */
    static final long ANY_STEP = -1;

    /** The earliest round the attention pods are at, or null (then layer 0). */
    private RoundKey findCurrentRound() {
        try {
            var at = node.earliestCurrent(io.shuttle.m2n.wire.MessageKind.DISPATCH).get(5, TimeUnit.SECONDS);
            if (at.isEmpty()) {
                Thread.sleep(2);
                return null;
            }
            return at.get();
        } catch (ExecutionException | TimeoutException e) {
            LOG.log(Level.WARNING, "cannot look for waiting rounds: " + e);
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopped = true;
            return null;
        }
    }

    /** Records every round's phases from now on. */
    public void trace(RoundTrace t) {
        this.trace = t;
    }

    /** When a round was last served with every attention pod present (System.nanoTime), 0 if never: readiness. */
    public long lastRoundNanos() {
        return lastRoundNanos;
    }

    private volatile long lastRoundNanos;

    public long roundsServed() {
        return roundsServed;
    }

    /** Totals for {@code /stats}: rounds, rows, and time waiting for, computing and combining rounds. */
    public java.util.Map<String, Object> stats() {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("rounds", roundsServed);
        m.put("rows", rowsServed.sum());
        m.put("wait_ns", waitNanos.sum());
        m.put("compute_ns", computeNanos.sum());
        m.put("combine_ns", combineNanos.sum());
        m.put("time_ns", System.nanoTime());
        return m;
    }

    /** Serves rounds from {@code firstStep} on (tests that know the step). */
    public void serve(long firstStep) {
        long step = firstStep;
        while (!stopped) {
            for (int layer = 0; layer < layers && !stopped; layer++) {
                for (int mb = 0; mb < microBatches && !stopped; mb++) {
                    serveRound(RoundKey.dispatch(step, layer, mb));
                }
            }
            step++;
        }
    }

    /** One round: gather from every attention pod, compute, combine back. Failures are logged, not fatal. */
    boolean serveRound(RoundKey key) {
        ReceivedRound round;
        long t0 = System.nanoTime();
        try {
            round = key.step() == ANY_STEP ? collectLatest(key)
                    : node.collect(key, senders, roundTimeout).get(roundTimeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
            long waited = System.nanoTime();
            waitNanos.add(waited - t0);
            if (key.step() == ANY_STEP) { // traces show the newest sender step of the round
                key = RoundKey.dispatch(round.messages().values().stream().mapToLong(m -> m.header().step()).max()
                        .orElse(ANY_STEP), key.layer(), key.microBatch());
            }
            trace.phase("wait attention", key.step(), key.layer(), key.microBatch(), t0, waited);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            String missing = cause instanceof M2nException m ? " missing attention pods " + m.missingSenders() : "";
            if (cause instanceof M2nException m && !m.missingSenders().isEmpty()) {
                trace.missingSenders(key.step(), key.layer(), key.microBatch(), m.missingSenders());
            }
            LOG.log(Level.WARNING, "round " + key + " failed:" + missing + ": " + cause.getMessage());
            return false;
        } catch (TimeoutException e) {
            LOG.log(Level.WARNING, "round " + key + " timed out locally");
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopped = true;
            return false;
        }
        try (round) {
            long t1 = System.nanoTime();
            int rows = compute(key, round);
            long t2 = System.nanoTime();
            combine(key, round, rows);
            long t3 = System.nanoTime();
            computeNanos.add(t2 - t1);
            combineNanos.add(t3 - t2);
            trace.phase("expert compute", key.step(), key.layer(), key.microBatch(), t1, t2);
            trace.phase("combine", key.step(), key.layer(), key.microBatch(), t2, t3);
            rowsServed.add(rows);
        }
        roundsServed++;
        lastRoundNanos = System.nanoTime();
        return true;
    }

    /** Concatenates every sender's rows (in sender order) and runs the expert stage once. Returns the row count. */
    private int compute(RoundKey key, ReceivedRound round) {
        int rows = 0;
        for (Message m : round.messages().values()) {
            MessageHeader h = m.header();
            if (h.rowCount() > 0 && (h.topK() != topK || h.dtype() != PayloadType.F32 || h.rowBytes() != (long) hidden * Float.BYTES)) {
                throw new IllegalStateException("round " + key + ": node " + m.sender() + " sent rows of "
                        + h.rowBytes() + " bytes, top-" + h.topK() + " " + h.dtype() + "; this pod serves hidden "
                        + hidden + " F32, top-" + topK + " (are both sides on the same model?)");
            }
            if (rows + h.rowCount() > maxRows) {
                throw new IllegalStateException("round " + key + " has more than " + maxRows + " rows");
            }
            if (h.rowCount() > 0) {
                backend.copyFromHost(m.payload(), x.rows(rows, rows + h.rowCount()));
                MemorySegment.copy(h.expertIds(), 0, staging, ValueLayout.JAVA_INT, 0, h.expertIds().length);
                trace.expertIds(h.expertIds());
                backend.copyFromHost(staging, ids.rows(rows, rows + h.rowCount()));
                MemorySegment.copy(h.weights(), 0, staging, ValueLayout.JAVA_FLOAT, 0, h.weights().length);
                backend.copyFromHost(staging, weights.rows(rows, rows + h.rowCount()));
            }
            rows += h.rowCount();
        }
        stage.forward(key.layer(), x.rows(0, rows), ids.rows(0, rows), weights.rows(0, rows), out.rows(0, rows));
        turn ^= 1;
        awaitSent(turn); // the buffer of two rounds ago must have left before it is overwritten
        hostOut = sendBuffers[turn].segment();
        if (rows > 0) {
            backend.copyToHost(out.rows(0, rows), hostOut);
        }
        return rows;
    }

    /** Sends each attention pod its slice of the combined rows (an empty message if it sent none). */
    private void combine(RoundKey key, ReceivedRound round, int rows) {
        List<Outgoing> replies = new ArrayList<>();
        long offset = 0;
        long rowBytes = (long) hidden * Float.BYTES;
        for (Message m : round.messages().values()) {
            int n = m.header().rowCount();
            InetSocketAddress to = attentionPods.get(m.sender());
            if (n == 0) {
                // Nothing to return; topK (unused in a reply without rows) tells an idle attention pod
                // whether the round had rows from others, so it keeps pace instead of backing off.
                replies.add(new Outgoing(to, 0, rows > 0 ? 1 : 0, new int[0], new float[0], PayloadType.F32, 0, 0));
            } else {
                replies.add(Outgoing.rows(to, hostOut.asSlice(offset, n * rowBytes), n, PayloadType.F32));
            }
            offset += n * rowBytes;
        }
        // Each reply carries its sender's own step (senders number steps independently). Posted,
        // not awaited: the next round's collect starts at once (see awaitSent).
        java.util.Map<Long, List<Outgoing>> byStep = new java.util.TreeMap<>();
        int i = 0;
        for (Message m : round.messages().values()) {
            byStep.computeIfAbsent(m.header().step(), k -> new ArrayList<>()).add(replies.get(i++));
        }
        List<java.util.concurrent.CompletableFuture<Void>> sends = new ArrayList<>();
        byStep.forEach((step, list) -> sends.add(node.combine(step, key.layer(), key.microBatch(), list)));
        inFlight[turn] = java.util.concurrent.CompletableFuture.allOf(sends.toArray(java.util.concurrent.CompletableFuture[]::new))
                .whenComplete((ok, error) -> {
                    if (error != null) {
                        LOG.log(Level.WARNING, "combine of round " + key + " failed: " + error);
                    }
                });
    }

    private void awaitSent(int buffer) {
        java.util.concurrent.CompletableFuture<?> f = inFlight[buffer];
        if (f == null) {
            return;
        }
        inFlight[buffer] = null;
        try {
            f.get(roundTimeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            // Logged by the completion handler; the buffer is free either way.
        } catch (TimeoutException e) {
            LOG.log(Level.WARNING, "a combine did not leave within " + roundTimeout + "; reusing its buffer anyway");
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
        backend.release(x);
        backend.release(ids);
        backend.release(weights);
        backend.release(out);
        awaitSent(0);
        awaitSent(1);
        for (var b : sendBuffers) {
            b.close();
        }
        arena.close();
    }
}
