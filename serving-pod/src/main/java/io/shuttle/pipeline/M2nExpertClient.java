package io.shuttle.pipeline;

import io.shuttle.engine.ExpertClient;
import io.shuttle.engine.ExpertUnavailableException;
import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.HostBackend;
import io.shuttle.kernels.Tensor;
import io.shuttle.m2n.M2nException;
import io.shuttle.m2n.M2nNode;
import io.shuttle.m2n.Message;
import io.shuttle.m2n.Outgoing;
import io.shuttle.m2n.ReceivedRound;
import io.shuttle.m2n.transport.RegisteredBuffer;
import io.shuttle.m2n.wire.PayloadType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The attention pod's {@link ExpertClient} over M2N. Dispatch sends each row once to every
 * expert pod that serves one of its top-k experts (the other slots marked -1), and an empty
 * message to pods with nothing, so every round completes without waiting for a timeout.
 * Combine sums the partial rows coming back from each expert pod into the output.
 *
 * <p>State is kept per micro-batch slot: between {@code dispatch(ℓ, i)} and
 * {@code awaitCombine(ℓ, i)} the pipeline touches only other micro-batches.
 */
public final class M2nExpertClient implements ExpertClient {
    private final M2nNode node;
    private final Backend backend;
    // The routing in force; replaced between steps when the plan's expert pool changes (reroute).
    private ExpertPlacement placement;
    private List<InetSocketAddress> podAddresses;
    private Set<Integer> podNodeIds;
    private int[] podNodeId;
    private volatile Routing nextRouting;
    private final int microBatches;

    /** An expert pool to route to: who holds which expert, where each pod listens, its M2N node id. */
    public record Routing(ExpertPlacement placement, List<InetSocketAddress> addresses, int[] nodeIds) {
        public Routing {
            if (addresses.size() != placement.pods() || nodeIds.length != placement.pods()) {
                throw new IllegalArgumentException("placement has " + placement.pods() + " expert pods but "
                        + addresses.size() + " addresses and " + nodeIds.length + " node ids were given");
            }
            addresses = List.copyOf(addresses);
            nodeIds = nodeIds.clone();
        }
    }
    private final int hidden;
    private final int topK;
    private final Duration timeout;
    private Slot[] slots;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment staging;
    private final int maxRows;
    /** The compute thread's wait for replies: yields before blocking, adapted to recent rounds. */
    private final SpinWait spinWait = new SpinWait();
    private volatile boolean othersBusy;

    /** What one in-flight micro-batch needs until its combine arrives. */
    private final class Slot {
        final RegisteredBuffer[] send;
        final Tensor[] index;       // backend I32 [maxRows]: micro-batch row of each row sent to pod p
        final int[][] rows;         // host copy of the same
        final int[] count;
        Tensor out;
        CompletableFuture<Void> sent;
        long step = -1;
        int layer = -1;

        void release() {
            for (int p = 0; p < send.length; p++) {
                send[p].close();
                backend.release(index[p]);
            }
        }

        Slot() {
            int pods = placement.pods();
            send = new RegisteredBuffer[pods];
            index = new Tensor[pods];
            rows = new int[pods][maxRows];
            count = new int[pods];
            for (int p = 0; p < pods; p++) {
                send[p] = node.allocate((long) maxRows * hidden * Float.BYTES);
                index[p] = backend.allocate(DType.I32, maxRows);
            }
        }
    }

    public M2nExpertClient(M2nNode node, Backend backend, ExpertPlacement placement,
                           List<InetSocketAddress> podAddresses, int[] podNodeIds,
                           int hidden, int topK, int maxRows, int microBatches, Duration timeout) {
        this.node = node;
        this.backend = backend;
        this.microBatches = microBatches;
        use(new Routing(placement, podAddresses, podNodeIds));
        this.hidden = hidden;
        this.topK = topK;
        this.maxRows = maxRows;
        this.timeout = timeout;
        this.staging = arena.allocate((long) maxRows * Math.max(topK, 1) * Integer.BYTES * 2L + 64, 64);
        this.slots = newSlots();
    }

    private void use(Routing r) {
        this.placement = r.placement();
        this.podAddresses = r.addresses();
        this.podNodeId = r.nodeIds();
        this.podNodeIds = Set.copyOf(Arrays.stream(podNodeId).boxed().toList());
    }

    private Slot[] newSlots() {
        Slot[] s = new Slot[microBatches];
        for (int i = 0; i < microBatches; i++) {
            s[i] = new Slot();
        }
        return s;
    }

    /**
     * Routes to another expert pool (the plan changed: more or fewer expert pods, a new
     * placement) from the next step on. The switch happens at a step boundary, so no step mixes
     * two placements; requests in flight carry on (their KV cache is here, and expert pods keep
     * no per-request state).
     */
    public void reroute(Routing routing) {
        nextRouting = routing;
    }

    @Override
    public void abandonRounds() {
        for (Slot s : slots) {
            s.step = -1; // no combine will be awaited; a routing switch waits for posted sends itself
        }
    }

    @Override
    public boolean wantsQuietStepBoundary() {
        return nextRouting != null;
    }

    /**
     * Applies a pending {@link #reroute} once no micro-batch is in flight: the start of a step
     * after the engine let the pipeline drain ({@link #wantsQuietStepBoundary}).
     */
    private void switchRoutingIfAsked() {
        Routing r = nextRouting;
        if (r == null) {
            return;
        }
        for (Slot s : slots) {
            if (s.step != -1) {
                return; // another micro-batch is still at the experts: at a later, quiet step start
            }
        }
        nextRouting = null;
        for (Slot s : slots) {
            if (s.sent != null && !s.sent.isDone()) {
                try { // a failed step may leave a send posted: its buffer must not be freed under it
                    s.sent.get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
                } catch (Exception ignored) {
                    // failed or timed out: the transport is done with the buffer either way
                }
            }
            s.release();
        }
        use(r);
        slots = newSlots();
    }

    @Override
    public void dispatch(long step, int layer, int microBatch, Tensor x, Tensor ids, Tensor weights, Tensor out) {
        if (layer == 0 && microBatch == 0) {
            switchRoutingIfAsked();
        }
        Slot s = slots[microBatch];
        int n = (int) x.dim(0);
        if (n > maxRows) {
            throw new IllegalArgumentException("micro-batch of " + n + " rows exceeds the " + maxRows + "-row buffers");
        }
        int[] hostIds = new int[n * topK];
        float[] hostWeights = new float[n * topK];
        if (n > 0) {
            backend.copyToHost(ids, staging);
            MemorySegment.copy(staging, ValueLayout.JAVA_INT, 0, hostIds, 0, hostIds.length);
            backend.copyToHost(weights, staging);
            MemorySegment.copy(staging, ValueLayout.JAVA_FLOAT, 0, hostWeights, 0, hostWeights.length);
        }
        int pods = placement.pods();
        Arrays.fill(s.count, 0);
        // Which pods each row goes to: one message per pod, the row once even if two of its experts are there.
        for (int r = 0; r < n; r++) {
            for (int p = 0; p < pods; p++) {
                for (int j = 0; j < topK; j++) {
                    if (placement.podFor(hostIds[r * topK + j], r) == p) {
                        s.rows[p][s.count[p]++] = r;
                        break;
                    }
                }
            }
        }
        List<Outgoing> messages = new ArrayList<>(pods);
        for (int p = 0; p < pods; p++) {
            int c = s.count[p];
            int[] msgIds = new int[c * topK];
            float[] msgWeights = new float[c * topK];
            for (int q = 0; q < c; q++) {
                int r = s.rows[p][q];
                for (int j = 0; j < topK; j++) {
                    int e = hostIds[r * topK + j];
                    boolean here = placement.podFor(e, r) == p;
                    msgIds[q * topK + j] = here ? e : -1;
                    msgWeights[q * topK + j] = here ? hostWeights[r * topK + j] : 0f;
                }
            }
            MemorySegment payload = s.send[p].segment().asSlice(0, (long) c * hidden * Float.BYTES);
            if (c > 0) {
                MemorySegment.copy(s.rows[p], 0, staging, ValueLayout.JAVA_INT, 0, c);
                backend.copyFromHost(staging, s.index[p].rows(0, c));
                if (c == n && sendInPlace(x)) {
                    // Every row, in order (rows are listed ascending): the pod gets x itself. The
                    // caller leaves x alone until awaitCombine, which waits for the send first.
                    payload = x.data().asSlice(0, payload.byteSize());
                } else {
                    backend.gatherRows(x, s.index[p].rows(0, c), Tensor.of(payload, DType.F32, c, hidden));
                }
            }
            messages.add(Outgoing.routed(podAddresses.get(p), payload, c, topK, msgIds, msgWeights, PayloadType.F32));
        }
        s.out = out;
        s.step = step;
        s.layer = layer;
        s.sent = node.dispatch(step, layer, microBatch, messages);
        if (YIELD_AFTER_POST) {
            // The next thing this thread does is the next micro-batch's attention, on the core
            // the progress thread shares: let it post these sends first.
            node.yieldUntilPosted(POST_YIELD_MAX_NANOS);
        }
    }

    /**
     * Whether x's rows can be sent where they are instead of gathered into the registered send
     * buffer: host memory, F32 and dense. A micro-batch's rows are 0.5 MiB at 256 rows, and the
     * copy sat on every round's path to the experts.
     */
    private boolean sendInPlace(Tensor x) {
        return backend instanceof HostBackend && !x.isDevice() && !x.isPacked() && x.dtype() == DType.F32
                && x.data().byteSize() >= (long) x.dim(0) * hidden * Float.BYTES;
    }

    /** Whether dispatch yields until its sends are posted ({@code -Dshuttle.m2n.yieldAfterPost=false}: not). */
    private static final boolean YIELD_AFTER_POST =
            !"false".equals(System.getProperty("shuttle.m2n.yieldAfterPost"));
    /** The longest such yield: a stalled progress thread must not hold up the compute thread. */
    private static final long POST_YIELD_MAX_NANOS = 500_000;

    @Override
    public void awaitCombine(long step, int layer, int microBatch) {
        combine(step, layer, microBatch, null);
    }

    /**
     * When one expert pod had every row of the round, its reply is scattered straight into the
     * residual: h + (0 + x) and h + x are the same floats. With rows at several pods the partial
     * rows are summed into {@code out} first, as {@link #awaitCombine} does, so the floats stay
     * those of a sum of the pods' rows added to h (the monolithic engine's order).
     */
    @Override
    public boolean awaitCombineInto(long step, int layer, int microBatch, Tensor residual) {
        return combine(step, layer, microBatch, residual);
    }

    private boolean combine(long step, int layer, int microBatch, Tensor residual) {
        Slot s = slots[microBatch];
        if (s.step != step || s.layer != layer) {
            throw new IllegalStateException("no dispatch in flight for step " + step + " layer " + layer
                    + " micro-batch " + microBatch);
        }
        s.step = -1;
        await(s.sent, Awaited.SENT, step, layer, microBatch);
        try (ReceivedRound combined = await(node.collectCombine(step, layer, microBatch, podNodeIds, timeout),
                Awaited.RESULTS, step, layer, microBatch)) {
            // Every reply is checked before any is added: a failed round leaves the residual as it was.
            boolean busy = false;
            int podsWithRows = 0;
            for (int p = 0; p < placement.pods(); p++) {
                Message m = combined.from(podNodeId[p]);
                // An empty reply's topK carries the expert pod's "the round had rows" flag (ExpertServer).
                busy |= m.header().rowCount() > 0 || m.header().topK() > 0;
                int c = s.count[p];
                if (c > 0 && m.header().rowCount() == 0 && m.header().topK() == ExpertServer.REPLY_REFUSED) {
                    throw new ExpertUnavailableException("expert pod " + p + " (" + podAddresses.get(p) + ") refused "
                            + c + " rows of " + roundName(step, layer, microBatch) + ": it does not hold every expert "
                            + "this pod routed to it, so its placement differs from this pod's plan (a placement change "
                            + "in progress)");
                }
                if (m.header().rowCount() != c) {
                    throw new ExpertUnavailableException("expert pod " + p + " returned " + m.header().rowCount()
                            + " rows for " + roundName(step, layer, microBatch) + " but was sent " + c);
                }
                podsWithRows += c > 0 ? 1 : 0;
            }
            boolean intoResidual = residual != null && podsWithRows == 1;
            Tensor target = intoResidual ? residual : s.out;
            if (!intoResidual) {
                backend.zero(s.out);
            }
            for (int p = 0; p < placement.pods(); p++) {
                int c = s.count[p];
                if (c > 0) {
                    Tensor src = Tensor.of(combined.from(podNodeId[p]).payload(), DType.F32, c, hidden);
                    backend.scatterAddRows(src, s.index[p].rows(0, c), ones(c), target);
                }
            }
            othersBusy = busy;
            lastRoundNanos = System.nanoTime();
            return intoResidual;
        }
    }

    /**
     * When a round last came back complete from every expert pod (System.nanoTime), or 0 if none
     * has or the latest one failed: readiness. An attention pod runs empty rounds while idle, so a recent time means the
     * plan's expert pods are reachable.
     */
    public long lastRoundNanos() {
        return lastRoundNanos;
    }

    private volatile long lastRoundNanos;

    @Override
    public boolean othersBusy() {
        return othersBusy;
    }

    private Tensor onesTensor;

    private Tensor ones(int c) {
        if (onesTensor == null) {
            onesTensor = backend.allocate(DType.F32, maxRows);
            float[] one = new float[maxRows];
            Arrays.fill(one, 1f);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment seg = a.allocate((long) maxRows * Float.BYTES);
                MemorySegment.copy(one, 0, seg, ValueLayout.JAVA_FLOAT, 0, maxRows);
                backend.copyFromHost(seg, onesTensor);
            }
        }
        return onesTensor.rows(0, c);
    }

    /** What a round's wait is for; the message naming it is built only if the wait fails. */
    private enum Awaited {
        SENT("sending %s to the expert pods"),
        RESULTS("the expert pods' results for %s");

        private final String format;

        Awaited(String format) {
            this.format = format;
        }

        String describe(long step, int layer, int microBatch) {
            return format.formatted(roundName(step, layer, microBatch));
        }
    }

    private static String roundName(long step, int layer, int microBatch) {
        return "step " + step + " layer " + layer + " micro-batch " + microBatch;
    }

    private <T> T await(CompletableFuture<T> f, Awaited awaited, long step, int layer, int microBatch) {
        node.beginWait();
        long start = spinWait.begin(f, node);
        try {
            T result = f.get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
            spinWait.end(start);
            return result;
        } catch (ExecutionException e) {
            lastRoundNanos = 0;
            Throwable cause = e.getCause();
            String detail = cause instanceof M2nException m2n ? m2n.getMessage() : String.valueOf(cause);
            throw new ExpertUnavailableException("failed waiting for " + awaited.describe(step, layer, microBatch)
                    + ": " + detail, cause);
        } catch (TimeoutException e) {
            lastRoundNanos = 0;
            throw new ExpertUnavailableException("timed out after " + timeout + " waiting for "
                    + awaited.describe(step, layer, microBatch), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ExpertUnavailableException("interrupted waiting for "
                    + awaited.describe(step, layer, microBatch), e);
        } finally {
            node.endWait();
        }
    }

    @Override
    public void close() {
        for (Slot s : slots) {
            s.release();
        }
        if (onesTensor != null) {
            backend.release(onesTensor);
        }
        arena.close();
    }
}
