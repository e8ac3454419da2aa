package io.shuttle.m2n;

import io.shuttle.m2n.transport.Link;
import io.shuttle.m2n.transport.RegisteredBuffer;
import io.shuttle.m2n.transport.Transport;
import io.shuttle.m2n.transport.TransportEvents;
import io.shuttle.m2n.transport.tcp.TcpTransport;
import io.shuttle.m2n.transport.ucx.UcxSupport;
import io.shuttle.m2n.transport.ucx.UcxTransport;
import io.shuttle.m2n.wire.MessageHeader;
import io.shuttle.m2n.wire.MessageKind;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One m2n endpoint: listens on one address, reaches peers lazily on the first send to them, and
 * exchanges rounds of messages. There is no group set-up and no world size: any node that knows
 * the secret may connect, leave, or come back at the same address.
 *
 * <p>Threading: one progress thread drives the transport. {@link #send}, {@link #collect} and
 * {@link #close} may be called from any thread; they hand work to the progress thread through a
 * lock-free queue. Futures complete on the progress thread, so dependent actions must not block
 * (use the {@code *Async} variants for heavy work). Posting the next operation from such a
 * callback is cheap: it needs no wake-up, which is how a latency-bound loop should be written
 * (see {@code bench.BenchPeer}).
 *
 * <p>A thread that waits for the node's traffic may drive the transport itself instead
 * ({@link #driveUntil}), as a pod's compute thread does: transport calls are then made by
 * whichever thread holds the node's progress lock, one at a time; futures complete on that
 * thread; submissions run at once on the submitting thread when the lock is free; and the
 * progress thread parks while callers drive, and takes over when they stop.
 */
public final class M2nNode implements AutoCloseable {
    private final java.util.concurrent.atomic.LongAdder bytesSent = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder bytesReceived = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder messagesSent = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder messagesReceived = new java.util.concurrent.atomic.LongAdder();
    private static final System.Logger LOG = System.getLogger(M2nNode.class.getName());
    private static final long MAX_SLEEP_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long DEADLINE_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private final NodeConfig config;
    private final Transport transport;
    private final Core core;
    private final ConcurrentLinkedQueue<Runnable> submissions = new ConcurrentLinkedQueue<>();
    /** Submissions made on the progress thread itself (from callbacks): no CAS, no node per task. */
    private final ArrayDeque<Runnable> localSubmissions = new ArrayDeque<>();
    /** The progress loop's last clock reading; read and written by the progress thread only. */
    private long loopNanos;
    private final AtomicInteger inflightSends = new AtomicInteger();
    private final Thread progressThread;
    private volatile boolean sleeping;
    /** Tasks other threads have submitted, counted before they are queued. */
    private final java.util.concurrent.atomic.AtomicLong submittedTasks = new java.util.concurrent.atomic.AtomicLong();
    /** Queued tasks that have run (written under driveLock only). */
    private volatile long ranTasks;
    /** Threads now inside {@link #beginWait}/{@link #endWait}. */
    private final AtomicInteger waitingCallers = new AtomicInteger();
    /** Set by the first {@link #beginWait}: from then on the progress thread polls only while a caller waits. */
    private volatile boolean callersReportWaits;
    private volatile boolean closing;
    private volatile boolean stopped;

    /**
     * Held by whichever thread is inside a progress pass: the progress thread, or a caller that
     * drives progress while it waits ({@link #driveUntil}). Transport calls are made one at a
     * time under it; the progress thread releases it while it blocks.
     */
    private final ReentrantLock driveLock = new ReentrantLock();
    /** The thread inside a pass now (it owns the local queue and the loop's clock); null between passes. */
    private volatile Thread driver;
    /** When a caller last drove progress (System.nanoTime); the progress thread stays off the core for a while after. */
    private volatile long lastCallerDrive;
    /** Set by the first {@link #driveUntil}: from then on the progress thread gives way to driving callers. */
    private volatile boolean callersDrive;
    private volatile boolean progressParked;
    /** Callers inside {@link #driveUntil} now. */
    private final AtomicInteger drivingCallers = new AtomicInteger();
    /** Next deadline scan of a pass; under {@link #driveLock}. */
    private long nextDeadlineCheck;

    private M2nNode(NodeConfig config, Transport transport) {
        this.config = config;
        this.transport = transport;
        this.core = new Core();
        this.progressThread = new Thread(this::run, "m2n-progress-" + config.nodeId());
        progressThread.setDaemon(true);
    }

    /** Opens the transport (logged with the reason for the choice), binds, and starts the progress thread. */
    public static M2nNode start(NodeConfig config) {
        Transport transport = openTransport(config);
        M2nNode node = new M2nNode(config, transport);
        transport.start(node.core);
        node.progressThread.start();
        return node;
    }

    private static Transport openTransport(NodeConfig config) {
        try {
            switch (config.transport()) {
                case TCP -> {
                    TcpTransport t = new TcpTransport(config.transportConfig());
                    LOG.log(Level.INFO, "m2n node {0} on {1}: transport tcp (requested)", config.nodeId(), t.localAddress());
                    return t;
                }
                case UCX -> {
                    Optional<String> why = UcxSupport.unavailableReason();
                    if (why.isPresent()) {
                        throw new IllegalStateException("transport ucx was requested but UCX cannot load: " + why.get()
                                + " (install libucx0, or use --transport tcp)");
                    }
                    UcxTransport t = new UcxTransport(config.transportConfig());
                    LOG.log(Level.INFO, "m2n node {0} on {1}: transport {2} (requested)", config.nodeId(),
                            t.localAddress(), t.name());
                    return t;
                }
                default -> {
                    Optional<String> why = UcxSupport.unavailableReason();
                    if (why.isEmpty()) {
                        try {
                            UcxTransport t = new UcxTransport(config.transportConfig());
                            LOG.log(Level.INFO, "m2n node {0} on {1}: transport {2} (UCX loaded)", config.nodeId(),
                                    t.localAddress(), t.name());
                            return t;
                        } catch (RuntimeException e) {
                            why = Optional.of(e.toString());
                        }
                    }
                    TcpTransport t = new TcpTransport(config.transportConfig());
                    LOG.log(Level.WARNING, "m2n node {0} on {1}: transport tcp, because UCX could not be used: {2}",
                            config.nodeId(), t.localAddress(), why.get());
                    return t;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on " + config.bind(), e);
        }
    }

    public int nodeId() {
        return config.nodeId();
    }

    /** The address peers send to. */
    public InetSocketAddress address() {
        return transport.localAddress();
    }

    /**
     * The nodes that have a link open to this node (they sent, or are about to). A receiver whose
     * senders come and go (attention pods scaling out and in) learns of a new one here; the set
     * is a snapshot, replaced whenever a peer's first link comes up or its last link goes down.
     */
    public Set<Integer> inboundPeers() {
        return inboundPeers;
    }

    /**
     * Where node {@code nodeId} listens, as learnt from its open link (its address as seen from
     * here, with the port it announced in the handshake): a receiver replies there without being
     * told the sender's address in advance. Empty while the node has no link open to this one.
     */
    public Optional<InetSocketAddress> peerListenAddress(int nodeId) {
        return Optional.ofNullable(peerListen.get(nodeId));
    }

    private volatile Set<Integer> inboundPeers = Set.of();
    private final java.util.concurrent.ConcurrentHashMap<Integer, InetSocketAddress> peerListen =
            new java.util.concurrent.ConcurrentHashMap<>();

    /** The transport in use, e.g. "tcp" or "ucx (wait: event fd)". */
    /** Payload bytes posted for sending since start (headers not counted). */
    public long bytesSent() {
        return bytesSent.sum();
    }

    /** Payload bytes received from authenticated peers since start. */
    public long bytesReceived() {
        return bytesReceived.sum();
    }

    public long messagesSent() {
        return messagesSent.sum();
    }

    public long messagesReceived() {
        return messagesReceived.sum();
    }

    public String transportName() {
        return transport.name();
    }

    /** Off-heap memory registered with the transport, for payloads to send; close it to return it. */
    public RegisteredBuffer allocate(long bytes) {
        RegisteredBuffer b = transport.pool().allocate(bytes);
        if (b == null) {
            throw new M2nException(M2nStatus.NO_RESOURCE, null, null, "registered memory pool is full ("
                    + transport.pool().maxBytes() + " bytes); close received messages or raise maxPoolBytes");
        }
        return b;
    }

    /** Posts a dispatch round (one message per receiver). */
    public CompletableFuture<Void> dispatch(long step, int layer, int microBatch, List<Outgoing> messages) {
        return send(RoundKey.dispatch(step, layer, microBatch), messages);
    }

    /** Posts a combine round (one message per original sender). */
    public CompletableFuture<Void> combine(long step, int layer, int microBatch, List<Outgoing> messages) {
        return send(RoundKey.combine(step, layer, microBatch), messages);
    }

    /**
     * Posts one message per destination for {@code round}. The future completes when every
     * message is locally complete (its memory may be reused) and fails with an
     * {@link M2nException} naming the first destination that failed.
     */
    public CompletableFuture<Void> send(RoundKey round, List<Outgoing> messages) {
        List<MessageHeader> headers = new ArrayList<>(messages.size());
        for (Outgoing o : messages) {
            headers.add(new MessageHeader(round.kind(), config.deploymentId(), round.step(), round.layer(),
                    round.microBatch(), config.nodeId(), o.rowCount(), o.topK(), o.expertIds(), o.weights(), o.dtype(),
                    o.length()));
        }
        SendRound r = new SendRound(round, messages.size(), now() + config.sendTimeout().toNanos(),
                inflightSends);
        if (messages.isEmpty()) {
            return r.future;
        }
        if (inflightSends.addAndGet(messages.size()) > config.maxInflightSends()) {
            inflightSends.addAndGet(-messages.size());
            return CompletableFuture.failedFuture(new M2nException(M2nStatus.NO_RESOURCE, null, round,
                    "more than " + config.maxInflightSends() + " messages in flight"));
        }
        for (int i = 0; i < messages.size(); i++) {
            bytesSent.add(messages.get(i).length());
        }
        messagesSent.add(messages.size());
        List<Outgoing> copy = List.copyOf(messages);
        if (!submit(() -> core.send(r, copy, headers))) {
            inflightSends.addAndGet(-messages.size());
            return CompletableFuture.failedFuture(new M2nException(M2nStatus.CLOSED, null, round, "node is closed"));
        }
        return r.future;
    }

    /** Collects a dispatch round from {@code senders}. */
    public CompletableFuture<ReceivedRound> collectDispatch(long step, int layer, int microBatch, Set<Integer> senders,
            Duration timeout) {
        return collect(RoundKey.dispatch(step, layer, microBatch), senders, timeout);
    }

    /** Collects a combine round from {@code senders}. */
    public CompletableFuture<ReceivedRound> collectCombine(long step, int layer, int microBatch, Set<Integer> senders,
            Duration timeout) {
        return collect(RoundKey.combine(step, layer, microBatch), senders, timeout);
    }

    /**
     * Waits for one message of {@code round} from each of {@code senders}. Completes with the
     * whole round, or fails with an {@link M2nException} listing the missing senders: TIMEOUT
     * when {@code timeout} passes, PEER_DEAD as soon as an expected sender's link is lost.
     */
    public CompletableFuture<ReceivedRound> collect(RoundKey round, Set<Integer> senders, Duration timeout) {
        CompletableFuture<ReceivedRound> f = new CompletableFuture<>();
        long deadline = now() + timeout.toNanos();
        Set<Integer> expected = Set.copyOf(senders);
        if (!submit(() -> core.collector.collect(round, expected, deadline, f, core.deadSenders()))) {
            f.completeExceptionally(new M2nException(M2nStatus.CLOSED, null, round, "node is closed"));
        }
        return f;
    }

    /**
     * Waits for one message of (kind, layer, micro-batch) from each of {@code senders}, taking
     * each sender's newest whatever its step (older ones are dropped): for receivers whose senders
     * number their steps independently. The round's key has step -1; each message's header has
     * its sender's step, which the reply must use. Fails like {@link #collect}.
     */
    public CompletableFuture<ReceivedRound> collectLatest(MessageKind kind, int layer, int microBatch,
            Set<Integer> senders, Duration timeout) {
        CompletableFuture<ReceivedRound> f = new CompletableFuture<>();
        long deadline = now() + timeout.toNanos();
        Set<Integer> expected = Set.copyOf(senders);
        if (!submit(() -> core.collector.collectLatest(kind, layer, microBatch, expected, deadline, f, core.deadSenders()))) {
            f.completeExceptionally(new M2nException(M2nStatus.CLOSED, null, RoundCollector.anyStep(kind, layer, microBatch),
                    "node is closed"));
        }
        return f;
    }

    /** Gives up collecting {@code round} (its future fails; a collectLatest round's messages go back). */
    /**
     * The senders a round being collected still waits for (empty when the round is not being
     * collected): a receiver watching a slow round tells a sender that has not sent yet from one
     * that has sent and already moved on.
     */
    public CompletableFuture<Set<Integer>> missingSenders(RoundKey round) {
        CompletableFuture<Set<Integer>> f = new CompletableFuture<>();
        if (!submit(() -> f.complete(core.collector.missing(round)))) {
            f.completeExceptionally(new M2nException(M2nStatus.CLOSED, null, null, "node is closed"));
        }
        return f;
    }

    public void cancelCollect(RoundKey round) {
        submit(() -> core.collector.cancel(round));
    }

    /**
     * The earliest (layer, micro-batch) at which the senders of {@code kind} messages currently
     * are (each at its own newest step); a key with step -1, empty if nothing waits.
     */
    public CompletableFuture<Optional<RoundKey>> earliestCurrent(MessageKind kind) {
        CompletableFuture<Optional<RoundKey>> f = new CompletableFuture<>();
        if (!submit(() -> f.complete(Optional.ofNullable(core.collector.earliestCurrent(kind))))) {
            f.completeExceptionally(new M2nException(M2nStatus.CLOSED, null, null, "node is closed"));
        }
        return f;
    }

    /**
     * Where each sender of {@code kind} messages is: for every sender with an uncollected
     * message, the earliest (layer, micro-batch) of its newest step, as a key carrying that step.
     * A receiver that serves senders joining at different times admits a newcomer when it reaches
     * the newcomer's round, and sets aside a sender that went back to an earlier round.
     */
    public CompletableFuture<Map<Integer, RoundKey>> senderPositions(MessageKind kind) {
        CompletableFuture<Map<Integer, RoundKey>> f = new CompletableFuture<>();
        if (!submit(() -> f.complete(core.collector.senderPositions(kind)))) {
            f.completeExceptionally(new M2nException(M2nStatus.CLOSED, null, null, "node is closed"));
        }
        return f;
    }

    /**
     * The oldest round of {@code kind} with a message waiting that nobody has collected yet
     * (empty if none). A receiver that joins or rejoins a running deployment uses it to find the
     * senders' current round.
     */
    public CompletableFuture<Optional<RoundKey>> oldestPending(MessageKind kind) {
        CompletableFuture<Optional<RoundKey>> f = new CompletableFuture<>();
        if (!submit(() -> f.complete(Optional.ofNullable(core.collector.oldestUnclaimed(kind))))) {
            f.completeExceptionally(new M2nException(M2nStatus.CLOSED, null, null, "node is closed"));
        }
        return f;
    }

    /**
     * The time for deadlines: on the progress thread the loop's last reading (at most one poll
     * old; deadlines are milliseconds to seconds away, and a clock read costs ~30 ns on a VM,
     * several of which would sit on every round's path), elsewhere the clock.
     */
    private long now() {
        return Thread.currentThread() == driver ? loopNanos : System.nanoTime();
    }

    private boolean submit(Runnable task) {
        if (closing) {
            return false;
        }
        Thread me = Thread.currentThread();
        if (me == driver) {
            // From a callback inside a pass: the pass drains this queue next, no wake-up.
            localSubmissions.add(task);
            return true;
        }
        if (callersDrive && me != progressThread && driveLock.tryLock()) {
            // Callers drive progress (driveUntil): run the task here and now, after anything
            // queued before it, instead of waking the progress thread on this thread's core.
            try {
                if (stopped) {
                    return false;
                }
                driver = me;
                loopNanos = System.nanoTime();
                drainSubmissions();
                task.run();
                drainSubmissions();
                return true;
            } finally {
                driver = null;
                driveLock.unlock();
            }
        }
        submittedTasks.incrementAndGet();
        submissions.add(task);
        if (sleeping) {
            transport.wakeup();
        }
        if (progressParked && drivingCallers.get() == 0) {
            LockSupport.unpark(progressThread);
        }
        return true;
    }

    /**
     * The calling thread now waits for this node's traffic (a round it collects, a send it
     * needs finished) until {@link #endWait}. Once any thread has called this, the progress
     * thread polls for replies only while some caller waits, and otherwise blocks until traffic
     * wakes it: a pod's compute thread shares its core with the progress thread, and a progress
     * thread that polls while the compute thread computes takes the core away from it, or (when
     * the compute thread runs at a lower priority) most of it.
     */
    public void beginWait() {
        callersReportWaits = !POLL_WHILE_CALLERS_WORK;
        waitingCallers.incrementAndGet();
        // No unpark here: every caller drives next (driveUntil), and one whose window passes hands
        // over at once. Unparking here woke the progress thread on every round (700-1,100 times a
        // second in the pods) and doubled the time their compute threads waited for their cores.
    }

    /** {@code -Dshuttle.m2n.pollWhileCallersWork=true}: poll while a reply is due even when no caller waits (the old way). */
    private static final boolean POLL_WHILE_CALLERS_WORK = Boolean.getBoolean("shuttle.m2n.pollWhileCallersWork");

    /** Ends a {@link #beginWait}. */
    public void endWait() {
        waitingCallers.decrementAndGet();
    }

    /**
     * Yields this thread's core until the progress thread has run every task submitted so far
     * (e.g. posted a dispatch's sends), or {@code maxNanos} pass; returns whether it has. For a
     * compute thread that shares its core with the progress thread and is about to compute
     * again: without it the messages it just posted wait in the queue for the scheduler to
     * switch threads, up to a whole time slice (on a pinned attention pod, dispatch hand-offs of
     * 0.2 ms median and 1.5 ms at p90 while the next micro-batch's attention ran).
     */
    public boolean yieldUntilPosted(long maxNanos) {
        if (Thread.currentThread() == progressThread || Thread.currentThread() == driver) {
            return true;
        }
        long target = submittedTasks.get();
        if (ranTasks >= target) {
            return true;
        }
        long deadline = System.nanoTime() + maxNanos;
        while (ranTasks < target) {
            if (stopped || System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.yield();
        }
        return true;
    }

    // ---- progress driven by a waiting caller ----------------------------------------------------

    /** {@code -Dshuttle.m2n.callerProgress=false}: waiting callers yield to the progress thread instead (the old way). */
    private static final boolean CALLER_PROGRESS = !"false".equals(System.getProperty("shuttle.m2n.callerProgress"));
    /**
     * After a caller last drove, the progress thread stays parked this long: a pod's compute
     * thread waits again within one layer's compute (milliseconds), and a progress thread woken
     * in between by arriving traffic would take the core from it. Longer gaps (a long prefill,
     * an idle pod) get the progress thread back.
     */
    private static final long CALLER_GRACE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    /**
     * While a caller drives, the parked progress thread checks back this seldom: whatever needs
     * it sooner unparks it (a caller that gives up its window, a task queued while nobody drives,
     * close), and the drivers scan the deadlines. Between drives it parks only until the grace
     * period ends. Each wake-up takes the core from a compute thread: with checks every 5 ms the
     * pinned pods' progress threads woke 220-240 times a second and used 1.9-2.8 % of their
     * cores in steady decoding; now 80-100 times and 1.5-1.6 %, and the compute threads' context
     * switches halved (schedstat of the threads, 20 s at m = 2, Zen 5 VM).
     */
    private static final long CALLER_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    /** Whether {@link #driveUntil} drives progress on the calling thread (else it only yields). */
    public boolean callerProgress() {
        return CALLER_PROGRESS && transport.supportsCallerProgress();
    }

    /**
     * Runs this node's progress on the calling thread until {@code f} completes or
     * {@code maxNanos} pass, and returns whether {@code f} completed. For a compute thread that
     * shares its core with the progress thread: handing every message to the progress thread
     * and back costs two scheduler switches per hop, which on a pinned pod in a virtual machine
     * took 100–400 µs (docs/BENCHMARKS.md); driving the transport itself costs none. Futures
     * then complete on this thread, as they would on the progress thread. While callers drive,
     * the progress thread stays parked; when this returns false (the window passed), it takes
     * over at once, so the caller may block on {@code f} next. Where the transport does not
     * support it (TCP) or {@code -Dshuttle.m2n.callerProgress=false}, this yields instead.
     */
    public boolean driveUntil(CompletableFuture<?> f, long maxNanos) {
        long start = System.nanoTime();
        if (f.isDone()) {
            return true;
        }
        if (!callerProgress() || Thread.currentThread() == progressThread || Thread.currentThread() == driver) {
            while (!f.isDone() && System.nanoTime() - start < maxNanos && !stopped) {
                Thread.yield();
            }
            return f.isDone();
        }
        callersDrive = true;
        drivingCallers.incrementAndGet();
        boolean done;
        try {
            done = drive(f, start, maxNanos);
        } finally {
            drivingCallers.decrementAndGet();
        }
        if (!done) {
            handOver(); // after the count went down: a woken progress thread must not see this caller as driving
        }
        return done;
    }

    private boolean drive(CompletableFuture<?> f, long start, long maxNanos) {
        Thread me = Thread.currentThread();
        int idlePasses = 0;
        int yieldMask = YIELD_OFTEN_MASK;
        while (!f.isDone()) {
            long now = System.nanoTime();
            if (now - start >= maxNanos || stopped) {
                break;
            }
            lastCallerDrive = now;
            boolean any = false;
            if (driveLock.tryLock()) {
                try {
                    if (!stopped) {
                        driver = me;
                        any = pass();
                    }
                } finally {
                    driver = null;
                    driveLock.unlock();
                }
            } else {
                Thread.yield(); // the progress thread is inside a pass (maybe preempted on this core): let it finish
                continue;
            }
            if (any) {
                idlePasses = 0;
            } else if ((++idlePasses & yieldMask) == 0) {
                // Other threads of the process (HTTP, the JIT, the garbage collector) share this
                // core: hand it over now and then, as the progress thread's own loop does. Never
                // yielding was tried: hop medians 173-179 against 113-116 µs (traces, m = 1), as
                // the others then took the core in the middle of compute instead.
                long before = System.nanoTime();
                Thread.yield();
                yieldMask = System.nanoTime() - before > YIELD_HANDED_OVER_NANOS ? YIELD_OFTEN_MASK
                        : Math.min(yieldMask * 2 + 1, YIELD_RARELY_MASK);
            } else {
                Thread.onSpinWait();
            }
        }
        return f.isDone();
    }

    /** A caller stops driving before its wait is over: the progress thread takes over now. */
    private void handOver() {
        lastCallerDrive = System.nanoTime() - 2 * CALLER_GRACE_NANOS;
        if (progressParked) {
            LockSupport.unpark(progressThread);
        }
    }

    /**
     * Whether the progress thread may stay parked: a caller drives now, or one drove within the
     * grace period and nobody waits without driving and nothing is queued.
     */
    private boolean callersCoverProgress(long now) {
        if (!callersDrive || closing) {
            return false;
        }
        if (drivingCallers.get() > 0) {
            return true;
        }
        return now - lastCallerDrive < CALLER_GRACE_NANOS && waitingCallers.get() == 0 && submissions.isEmpty();
    }

    /** One pass over the node's work: queued tasks, the transport, deadlines (every millisecond). Under driveLock. */
    private boolean pass() {
        boolean any = drainSubmissions();
        any |= transport.progress();
        long now = System.nanoTime();
        loopNanos = now;
        // Deadlines are milliseconds apart; scanning them on every poll would slow the poll itself.
        if (now - nextDeadlineCheck >= 0 || closing) {
            core.checkDeadlines(now);
            nextDeadlineCheck = now + DEADLINE_CHECK_NANOS;
        }
        return any;
    }

    // ---- the progress thread ----------------------------------------------------------------

    /** Idle polls yield when {@code (n & mask) == 0}: every fourth while the core is shared. */
    private static final int YIELD_OFTEN_MASK = 3;
    /** ...and every 256th while yields come straight back (nothing else wanted the core). */
    private static final int YIELD_RARELY_MASK = 255;
    /** A yield that took this long ran something else: the core is shared. */
    private static final long YIELD_HANDED_OVER_NANOS = 5_000;

    private void run() {
        int idlePolls = 0;
        int yieldMask = YIELD_OFTEN_MASK;
        long idleSpinNanos = config.spin().toNanos();
        long activeSpinNanos = Math.max(idleSpinNanos, config.activeSpin().toNanos());
        long lastActivity = System.nanoTime();
        loopNanos = lastActivity;
        nextDeadlineCheck = lastActivity;
        long closeDeadline = Long.MAX_VALUE;
        try {
            while (true) {
                if (callersCoverProgress(System.nanoTime())) {
                    // A compute thread drives progress itself (driveUntil): stay off its core.
                    progressParked = true;
                    long now = System.nanoTime();
                    if (callersCoverProgress(now)) {
                        LockSupport.parkNanos(drivingCallers.get() > 0 ? CALLER_PARK_NANOS
                                : Math.clamp(lastCallerDrive + CALLER_GRACE_NANOS - now, 1, CALLER_PARK_NANOS));
                    }
                    progressParked = false;
                    lastActivity = System.nanoTime();
                    continue;
                }
                boolean any;
                boolean replyDue;
                long now;
                boolean armed = false;
                long blockNanos = 0;
                driveLock.lock();
                try {
                    driver = progressThread;
                    any = pass();
                    now = loopNanos;
                    if (closing) {
                        if (closeDeadline == Long.MAX_VALUE) {
                            closeDeadline = now + TimeUnit.SECONDS.toNanos(2);
                        }
                        // Let sends already handed over finish (bounded), so a clean exit loses nothing.
                        if ((inflightSends.get() == 0 && submissions.isEmpty() && localSubmissions.isEmpty())
                                || now - closeDeadline > 0) {
                            break;
                        }
                    }
                    replyDue = core.expectingTraffic(now, activeSpinNanos)
                            && (!callersReportWaits || waitingCallers.get() > 0);
                    long idle = now - lastActivity;
                    if (!any && idle >= (replyDue ? activeSpinNanos : idleSpinNanos)) {
                        sleeping = true;
                        armed = submissions.isEmpty() && localSubmissions.isEmpty() && transport.arm();
                        if (!armed) {
                            sleeping = false;
                        } else {
                            // Read under the lock: a driving caller changes the rounds being
                            // collected meanwhile, and iterating them outside it threw
                            // ConcurrentModificationException, which ended this thread and closed the node.
                            blockNanos = core.collector.nanosToNextDeadline(now, closing ? TimeUnit.MILLISECONDS.toNanos(5)
                                    : MAX_SLEEP_NANOS);
                        }
                    }
                } finally {
                    driver = null;
                    driveLock.unlock();
                }
                if (any) {
                    lastActivity = now;
                    continue;
                }
                if (armed) {
                    // Blocked outside the lock: a caller may drive progress meanwhile.
                    if (submissions.isEmpty()) {
                        transport.block(blockNanos);
                    }
                    sleeping = false;
                    lastActivity = System.nanoTime();
                    continue;
                }
                // While a reply is expected, spinning is cheaper than the wake-up (tens to hundreds
                // of µs on a VM). Every fourth idle poll yields: with nothing else runnable on this
                // core sched_yield returns at once, but when the peer (or any other work) waits for
                // this core, it runs now instead of after our time slice. Measured on 2 busy cores:
                // ping-pong rounds of 15-18 µs with yield on every poll, 50-60 µs when the spin
                // yields only after 20 µs (both threads on one core), ms without yielding. The
                // yield is a system call of a few hundred ns, and a message that lands during it
                // waits for it; yielding on every fourth poll made 4 KiB rounds ~7 % faster (5.5
                // against 5.9 µs, medians of five runs each) and still hands a shared core over
                // within a few hundred ns. While yields come straight back (this core is ours), the
                // interval doubles up to every 256th poll, and the first yield that takes over 5 µs
                // (someone else ran) returns it to every fourth: 4 KiB rounds 3.7 against 4.0 µs
                // (five interleaved runs each); M = N = 2 at 256 KiB, 4 processes on 2 cores,
                // 16.0 against 14.3 GB/s.
                if ((++idlePolls & yieldMask) == 0) {
                    Thread.yield();
                    // Yield often only while it hands the core to someone. A yield with nothing
                    // else runnable is a bare system call (~300 ns here) during which an arriving
                    // message waits; one that ran another thread took microseconds at least.
                    yieldMask = System.nanoTime() - now > YIELD_HANDED_OVER_NANOS ? YIELD_OFTEN_MASK
                            : Math.min(yieldMask * 2 + 1, YIELD_RARELY_MASK);
                } else {
                    Thread.onSpinWait();
                }
            }
        } catch (Throwable t) {
            LOG.log(Level.ERROR, "m2n progress thread of node " + config.nodeId() + " failed", t);
        } finally {
            driveLock.lock();
            try {
                stopped = true;
                driver = progressThread;
                drainSubmissions(); // run late submissions so their futures fail below instead of hanging
                core.shutdown("node " + config.nodeId() + " closed");
                try {
                    transport.close();
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "closing the transport failed: {0}", e.toString());
                }
            } finally {
                driver = null;
                driveLock.unlock();
            }
        }
    }

    private boolean drainSubmissions() {
        boolean any = false;
        for (Runnable r; (r = localSubmissions.poll()) != null; ) {
            r.run();
            any = true;
        }
        for (Runnable r; (r = submissions.poll()) != null; ) {
            try {
                r.run();
            } finally {
                ranTasks++; // only the holder of driveLock writes it
            }
            any = true;
            // A task may queue local follow-ups; they run before the next submitted task.
            for (Runnable l; (l = localSubmissions.poll()) != null; ) {
                l.run();
            }
        }
        return any;
    }

    /**
     * Stops the node: sends already submitted get up to 2 s to finish, then every pending
     * operation fails with CLOSED and the transport closes.
     */
    /**
     * Whether this node still moves traffic: not closed, and its progress thread has not ended.
     * A progress thread ends early only on a bug (logged); every call after that fails with
     * CLOSED, so a pod reports itself not live and gets restarted instead of failing requests
     * for ever.
     */
    public boolean isRunning() {
        return !closing && !stopped && progressThread.isAlive();
    }

    @Override
    public void close() {
        closing = true;
        if (Thread.currentThread() == progressThread || Thread.currentThread() == driver) {
            return; // called from a callback: the loop sees the flag and finishes the close itself
        }
        LockSupport.unpark(progressThread);
        transport.wakeup();
        try {
            progressThread.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (progressThread.isAlive()) {
            LOG.log(Level.WARNING, "progress thread of node {0} did not stop within 10 s", config.nodeId());
        }
    }

    /** Progress-thread state: links by peer, sends waiting for a connection, rounds. */
    private final class Core implements TransportEvents {
        private record Queued(SendRound round, int index, Outgoing out, MessageHeader header) {
        }

        final RoundCollector collector = new RoundCollector(config.unclaimedTtl().toNanos());
        private final Map<InetSocketAddress, Link> outLinks = new HashMap<>();
        private final Map<InetSocketAddress, List<Queued>> connecting = new HashMap<>();
        private final Map<Integer, Integer> inboundLinks = new HashMap<>();
        private final Set<Integer> dead = new HashSet<>();
        private final ArrayDeque<SendRound> sendRounds = new ArrayDeque<>();

        Set<Integer> deadSenders() {
            return dead;
        }

        /** A reply or a send completion is due soon: a round opened within the window, a send in flight, a link being made. */
        boolean expectingTraffic(long now, long windowNanos) {
            return collector.collectingRecently(now, windowNanos) || inflightSends.get() > 0 || !connecting.isEmpty();
        }

        void send(SendRound r, List<Outgoing> messages, List<MessageHeader> headers) {
            if (stopped) {
                for (int i = 0; i < messages.size(); i++) {
                    r.complete(i, M2nStatus.CLOSED, "node is closed");
                }
                return;
            }
            sendRounds.add(r);
            for (int i = 0; i < messages.size(); i++) {
                Outgoing o = messages.get(i);
                r.track(i, o.to());
                Queued q = new Queued(r, i, o, headers.get(i));
                Link link = outLinks.get(o.to());
                if (link != null) {
                    transmit(link, q);
                } else {
                    List<Queued> waiting = connecting.get(o.to());
                    if (waiting == null) {
                        connecting.put(o.to(), waiting = new ArrayList<>());
                        transport.connect(o.to());
                    }
                    waiting.add(q);
                }
            }
        }

        private void transmit(Link link, Queued q) {
            q.round().track(q.index(), link);
            transport.send(link, q.header(), q.out().address(), q.out().length(),
                    (status, detail) -> q.round().complete(q.index(), status, detail));
        }

        void checkDeadlines(long now) {
            collector.expire(now);
            while (!sendRounds.isEmpty()) {
                SendRound r = sendRounds.peek();
                if (r.done() || r.future.isDone()) {
                    sendRounds.poll();
                } else if (now - r.deadline >= 0) {
                    sendRounds.poll();
                    r.timeOut();
                } else {
                    break;
                }
            }
        }

        void shutdown(String why) {
            collector.closeAll(why);
            for (List<Queued> waiting : connecting.values()) {
                for (Queued q : waiting) {
                    q.round().complete(q.index(), M2nStatus.CLOSED, why);
                }
            }
            connecting.clear();
            for (SendRound r : sendRounds) {
                if (!r.future.isDone()) {
                    r.future.completeExceptionally(new M2nException(M2nStatus.CLOSED, null, r.key, why));
                }
            }
        }

        @Override
        public void onConnected(InetSocketAddress address, Link link) {
            Link old = outLinks.put(address, link);
            if (old != null) {
                transport.closeLink(old);
            }
            List<Queued> waiting = connecting.remove(address);
            if (waiting != null) {
                for (Queued q : waiting) {
                    transmit(link, q);
                }
            }
        }

        @Override
        public void onConnectFailed(InetSocketAddress address, M2nStatus status, String detail) {
            List<Queued> waiting = connecting.remove(address);
            if (waiting != null) {
                for (Queued q : waiting) {
                    q.round().complete(q.index(), status, detail);
                }
            }
        }

        @Override
        public void onInboundLink(Link link) {
            inboundLinks.merge(link.peerNodeId(), 1, Integer::sum);
            dead.remove(link.peerNodeId());
            peerListen.put(link.peerNodeId(), link.peerListen());
            inboundPeers = Set.copyOf(inboundLinks.keySet());
        }

        @Override
        public void onLinkDown(Link link, M2nStatus status, String detail) {
            LOG.log(Level.INFO, "node {0}: link {1} {2} down: {3}", config.nodeId(), link.outbound() ? "to" : "from",
                    link.describe(), detail);
            if (link.outbound()) {
                outLinks.remove(link.peerListen(), link);
                return;
            }
            int left = inboundLinks.merge(link.peerNodeId(), -1, Integer::sum);
            if (left <= 0) {
                inboundLinks.remove(link.peerNodeId());
                peerListen.remove(link.peerNodeId());
                inboundPeers = Set.copyOf(inboundLinks.keySet());
                if (status != M2nStatus.CLOSED) {
                    dead.add(link.peerNodeId());
                }
                collector.senderDead(link.peerNodeId(), M2nStatus.PEER_DEAD, link.describe() + ": " + detail);
            }
        }

        @Override
        public void onMessage(Link link, MessageHeader header, RegisteredBuffer payload) {
            if (header.deploymentId() != config.deploymentId() || header.sender() != link.peerNodeId()) {
                LOG.log(Level.WARNING, "dropped a message from {0}: header says deployment {1} sender {2}",
                        link.describe(), header.deploymentId(), header.sender());
                payload.close();
                return;
            }
            bytesReceived.add(header.payloadLength());
            messagesReceived.increment();
            collector.offer(new Message(header, payload, loopNanos));
        }
    }
}
