package io.shuttle.m2n.transport.ucx;

import io.shuttle.m2n.M2nStatus;
import io.shuttle.m2n.transport.BufferPool;
import io.shuttle.m2n.transport.ControlPlane;
import io.shuttle.m2n.transport.Handshake;
import io.shuttle.m2n.transport.Link;
import io.shuttle.m2n.transport.RegisteredBuffer;
import io.shuttle.m2n.transport.SendCompletion;
import io.shuttle.m2n.transport.Transport;
import io.shuttle.m2n.transport.TransportConfig;
import io.shuttle.m2n.transport.TransportEvents;
import io.shuttle.m2n.wire.HeaderCodec;
import io.shuttle.m2n.wire.MessageHeader;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openucx.jucx.ucp.UcpContext;
import org.openucx.jucx.ucp.UcpEndpoint;
import org.openucx.jucx.ucp.UcpEndpointParams;
import org.openucx.jucx.ucp.UcpMemMapParams;
import org.openucx.jucx.ucp.UcpMemory;
import org.openucx.jucx.ucp.UcpParams;
import org.openucx.jucx.ucp.UcpWorker;
import org.openucx.jucx.ucp.UcpWorkerParams;

/**
 * The {@code ucx} transport: UCP tag messages on one worker driven by the node's progress
 * thread. The handshake runs over a TCP control connection, which hands the connector the
 * acceptor's worker address and a session id; the endpoint is then created from the worker
 * address without peer error handling, so UCX may pick shared memory (sysv/posix + cma) on one
 * host instead of tcp. The control connection stays open as the liveness channel.
 *
 * <p>A message of at most {@link #INLINE_MESSAGE_MAX} bytes, header and payload, is one tagged
 * send (part 0: header, then payload, gathered from both buffers). A larger one is two: the
 * header (part 0) and the payload (part 1, zero-copy rendezvous from the caller's memory); tags
 * are {@code session << 40 | seq << 2 | large << 1 | part}. The receiver keeps receives posted
 * for part-0 messages of up to {@link #POSTED_BYTES} and probes for larger ones ("large"); if a
 * part 0 holds only the header, it then posts a receive for the exact payload tag straight into
 * another pooled buffer. Every call on this path goes to libucp through {@link UcpCalls}.
 */
public final class UcxTransport implements Transport {
    private static final System.Logger LOG = System.getLogger(UcxTransport.class.getName());
    private static final int SESSION_SHIFT = 40;
    /** Tag bit 0: the payload part of a two-part message. */
    private static final long PART_PAYLOAD = 1L;
    /** Tag bit 1: a first part longer than {@link #POSTED_BYTES}, which only a probe may take. */
    private static final long PART_LARGE = 2L;
    private static final long PART_BITS = PART_PAYLOAD | PART_LARGE;
    private static final int SEQ_SHIFT = 2;
    private static final long SEQ_MASK = (1L << (SESSION_SHIFT - SEQ_SHIFT)) - 1;
    /**
     * First parts up to this size (header, plus an inline payload) are received by receives
     * posted ahead of time, so UCP copies them once, from its transport straight into a pooled
     * buffer; anything longer is tagged {@link #PART_LARGE} and probed for. Part of the protocol:
     * both ends must agree.
     */
    static final long POSTED_BYTES = 32 * 1024;
    /** Headers up to this size (less the gather list) are built in the link's reused scratch buffer. */
    private static final long SPARE_SCRATCH_BYTES = 4096;
    /** Receives kept posted for small first parts (each holds a {@link #POSTED_BYTES} buffer). */
    private static final int POSTED_RECEIVES = 8;
    private static final int PROBES_PER_PROGRESS = 64;
    /**
     * Messages up to this size, header and payload, travel as one tagged message. That is one
     * element of UCX's shared-memory FIFO (8 KiB of data); beyond it UCX cuts an eager message
     * into fragments, and a header message plus a rendezvous payload is faster: measured 4 KiB
     * rounds, 6 KiB 4.4-4.9 µs one message against 4.8-5.8 two; 8 KiB 8.1-9.9 against 5.5-6.2;
     * 64 KiB 20.1-20.5 against 10.8-12.0.
     */
    static final long INLINE_MESSAGE_MAX = 8 * 1024;

    /** One outbound link: endpoint, tag base, sends UCP has not finished. */
    private static final class OutLink {
        final Link link;
        final UcpEndpoint ep;
        final long epHandle;
        final long tagBase;
        final Set<Send> inflight = new LinkedHashSet<>();
        long seq;
        /**
         * Scratch memory for the next header, kept while sends complete in place (the usual
         * eager case), so the common message takes nothing from the pool.
         */
        RegisteredBuffer spare;

        OutLink(Link link, UcpEndpoint ep, int sessionId) {
            this.link = link;
            this.ep = ep;
            this.epHandle = ep.getNativeId();
            this.tagBase = ((long) sessionId) << SESSION_SHIFT;
        }
    }

    /** One inbound link (its receives in flight are the {@link PayloadReceive}s naming it). */
    private record InLink(Link link) {
    }

    /**
     * A UCP operation that did not finish in place: polled on every progress, its request freed
     * once it finished. {@link #finished} runs on the progress thread outside
     * {@code ucp_worker_progress}, so it may post new operations.
     */
    private abstract static class Pending {
        final long request;

        Pending(long request) {
            this.request = request;
        }

        /** Receives read their length with the status; sends only have a status. */
        abstract boolean isReceive();

        abstract void finished(int status, long tag, long length);
    }

    /** One message being sent: completes once every part completed, or at the first error. */
    private final class Send {
        final OutLink out;
        final RegisteredBuffer scratch;
        final SendCompletion done;
        int partsHeld;
        boolean finished;

        Send(OutLink out, RegisteredBuffer scratch, SendCompletion done, int parts) {
            this.out = out;
            this.scratch = scratch;
            this.done = done;
            this.partsHeld = parts;
        }

        /** UCP let go of one part (sent, or failed with {@code status}). */
        void partDone(int status) {
            if (status != UcpCalls.OK) {
                finish(M2nStatus.TRANSPORT_ERROR, "UCX send to " + out.link.describe() + " failed: "
                        + UcpStatus.describe(status));
            }
            if (--partsHeld == 0) {
                scratch.close(); // UCX no longer reads the header bytes
                finish(M2nStatus.OK, null);
            }
        }

        void finish(M2nStatus status, String detail) {
            if (!finished) {
                finished = true;
                out.inflight.remove(this);
                done.complete(status, detail);
            }
        }
    }

    private static final class SendPart extends Pending {
        final Send send;

        SendPart(long request, Send send) {
            super(request);
            this.send = send;
        }

        @Override
        boolean isReceive() {
            return false;
        }

        @Override
        void finished(int status, long tag, long length) {
            send.partDone(status);
        }
    }

    /**
     * A first part (header, perhaps with its payload) being received into a pooled buffer:
     * either a receive posted ahead for any small first part, which whichever sender's message
     * matches first lands in (its tag and length come with the completion), or the receive of a
     * probed message, whose tag and length the probe told.
     */
    private final class FirstPartReceive extends Pending {
        static final long FROM_COMPLETION = -1;
        final RegisteredBuffer buffer;
        final long probedTag;
        final long probedLength;

        FirstPartReceive(long request, RegisteredBuffer buffer, long probedTag, long probedLength) {
            super(request);
            this.buffer = buffer;
            this.probedTag = probedTag;
            this.probedLength = probedLength;
        }

        @Override
        boolean isReceive() {
            return true;
        }

        @Override
        void finished(int status, long tag, long length) {
            boolean probed = probedLength != FROM_COMPLETION;
            firstPartArrived(status, probed ? probedTag : tag, probed ? probedLength : length, buffer);
        }
    }

    /** A rendezvous payload being received straight into a pooled buffer. */
    private final class PayloadReceive extends Pending {
        final InLink in;
        final MessageHeader header;
        final RegisteredBuffer payload;

        PayloadReceive(long request, InLink in, MessageHeader header, RegisteredBuffer payload) {
            super(request);
            this.in = in;
            this.header = header;
            this.payload = payload;
        }

        @Override
        boolean isReceive() {
            return true;
        }

        @Override
        void finished(int status, long tag, long length) {
            payloadFinished(in, header, payload, status, length);
        }
    }

    private final TransportConfig config;
    private final UcpContext context;
    private final UcpWorker worker;
    private final byte[] workerAddress;
    private final EventWait eventWait;
    private final BufferPool pool;
    private final ControlPlane control;
    private final LivenessMonitor liveness;
    private final ConcurrentLinkedQueue<Runnable> fromControl = new ConcurrentLinkedQueue<>();
    private final UcpCalls ucp;
    /** UCP operations that did not finish in place, polled in order on every progress. */
    private final ArrayDeque<Pending> pending = new ArrayDeque<>();
    private final ArrayDeque<Runnable> waitingForBuffer = new ArrayDeque<>();
    private final Map<Integer, OutLink> outLinks = new HashMap<>();
    private final Map<Integer, InLink> inLinks = new HashMap<>();
    private final AtomicInteger linkIds = new AtomicInteger();
    private volatile boolean starved;
    private volatile boolean closed;
    /** The last progress() returned right after delivering messages, before its housekeeping. */
    private boolean skippedHousekeeping;
    /** Set when close() begins: no receive is posted after it. */
    private boolean closing;
    /**
     * Receives posted for small first parts, oldest first. UCP matches posted receives in the
     * order they were posted, so only the head needs checking.
     */
    private final ArrayDeque<FirstPartReceive> posted = new ArrayDeque<>();
    private TransportEvents events;

    public UcxTransport(TransportConfig config) throws IOException {
        this.config = config;
        UcpParams params = new UcpParams().requestTagFeature().requestWakeupFeature().setMtWorkersShared(true);
        config.ucxNetDevices().ifPresent(d -> params.setConfig("NET_DEVICES", d));
        this.context = new UcpContext(params);
        try {
            this.worker = context.newWorker(new UcpWorkerParams());
            ByteBuffer address = worker.getAddress();
            this.workerAddress = new byte[address.remaining()];
            address.get(workerAddress);
            this.eventWait = new EventWait(worker);
            this.ucp = new UcpCalls(worker.getNativeId());
            this.pool = new BufferPool(config.maxPoolBytes(), new UcxRegistrar(context));
            pool.onRelease(() -> {
                if (starved) {
                    wakeup();
                }
            });
            this.control = new ControlPlane(config, Handshake.TRANSPORT_UCX, new ControlHandler());
            this.liveness = new LivenessMonitor("m2n-liveness-" + config.nodeId(), config.heartbeatInterval().toNanos(),
                    config.peerTimeout().toNanos(), (linkId, why) -> post(() -> linkDead(linkId, why)));
        } catch (IOException | RuntimeException e) {
            context.close();
            throw e;
        }
    }

    @Override
    public String name() {
        return "ucx (wait: " + eventWait.mode() + ")";
    }

    @Override
    public InetSocketAddress localAddress() {
        return control.localAddress();
    }

    @Override
    public BufferPool pool() {
        return pool;
    }

    @Override
    public void start(TransportEvents events) {
        this.events = events;
        control.start();
    }

    @Override
    public void connect(InetSocketAddress address) {
        control.dial(address);
    }

    @Override
    public void send(Link link, MessageHeader header, long payloadAddress, long payloadLength, SendCompletion done) {
        OutLink out = outLinks.get(link.id());
        if (out == null) {
            done.complete(M2nStatus.PEER_DEAD, "link to " + link.describe() + " is closed");
            return;
        }
        int headerLength = header.encodedLength();
        boolean inline = payloadLength > 0 && headerLength + payloadLength <= INLINE_MESSAGE_MAX;
        // The scratch buffer holds the header; for an inline payload it first holds the two-entry
        // gather list (header, payload) that sends both as one message without copying the payload.
        long iovBytes = inline ? 2 * UcpCalls.IOV_ENTRY_BYTES : 0;
        RegisteredBuffer scratch = scratchFor(out, iovBytes + headerLength);
        if (scratch == null) {
            done.complete(M2nStatus.NO_RESOURCE, "buffer pool full (" + pool.maxBytes() + " bytes)");
            return;
        }
        MemorySegment bytes = scratch.segment();
        HeaderCodec.encode(header, bytes.asSlice(iovBytes, headerLength));
        long firstLength = inline ? headerLength + payloadLength : headerLength;
        long tag = out.tagBase | ((out.seq++ & SEQ_MASK) << SEQ_SHIFT) | (firstLength > POSTED_BYTES ? PART_LARGE : 0);
        long first;
        if (inline) {
            bytes.set(ValueLayout.JAVA_LONG, 0, scratch.address() + iovBytes);
            bytes.set(ValueLayout.JAVA_LONG, 8, headerLength);
            bytes.set(ValueLayout.JAVA_LONG, 16, payloadAddress);
            bytes.set(ValueLayout.JAVA_LONG, 24, payloadLength);
            first = ucp.tagSendGather(out.epHandle, scratch.address(), 2, tag);
        } else {
            first = ucp.tagSend(out.epHandle, scratch.address(), headerLength, tag);
        }
        boolean separatePayload = payloadLength > 0 && !inline;
        if (first == 0 && !separatePayload) {
            // The common small message: UCP copied it out (eager) before returning.
            if (scratch != out.spare) {
                scratch.close();
            }
            done.complete(M2nStatus.OK, null);
            return;
        }
        if (scratch == out.spare) {
            out.spare = null; // UCP still reads it: the Send owns it now
        }
        Send send = new Send(out, scratch, done, separatePayload ? 2 : 1);
        out.inflight.add(send);
        track(send, first);
        if (separatePayload && !send.finished) {
            track(send, ucp.tagSend(out.epHandle, payloadAddress, payloadLength, payloadTag(tag)));
        } else if (separatePayload) {
            send.partDone(UcpCalls.OK); // the header failed: the payload part is never posted
        }
    }

    /** The link's spare scratch when {@code bytes} fit in it, else a buffer of its own (null: pool full). */
    private RegisteredBuffer scratchFor(OutLink out, long bytes) {
        if (bytes > SPARE_SCRATCH_BYTES) {
            return pool.allocate(bytes);
        }
        if (out.spare == null) {
            out.spare = pool.allocate(SPARE_SCRATCH_BYTES);
        }
        return out.spare;
    }

    /** Completes a send part that finished in place, or polls its request from now on. */
    private void track(Send send, long statusPtr) {
        if (UcpCalls.isRequest(statusPtr)) {
            pending.add(new SendPart(statusPtr, send));
        } else {
            send.partDone(UcpCalls.statusOf(statusPtr));
        }
    }

    @Override
    public boolean progress() {
        boolean any = drainControl();
        while (ucp.progress() != 0) {
            any = true;
        }
        if (pollPosted() && !skippedHousekeeping) {
            // Messages were delivered: return now, so the node first runs what their callbacks
            // posted (typically the reply), and do the rest on the next call. Never twice in a
            // row, so a steady stream of arrivals cannot starve the rest.
            skippedHousekeeping = true;
            return true;
        }
        skippedHousekeeping = false;
        any |= pollPosted();
        any |= pollPending();
        any |= probeHeaders();
        if (posted.size() < POSTED_RECEIVES) {
            postReceives();
        }
        if (starved) {
            int n = waitingForBuffer.size();
            for (int i = 0; i < n; i++) {
                waitingForBuffer.poll().run();
            }
            starved = !waitingForBuffer.isEmpty();
            any |= n > waitingForBuffer.size();
        }
        return any;
    }

    /** Takes the posted receives that finished, oldest first. */
    private boolean pollPosted() {
        boolean any = false;
        for (FirstPartReceive p; (p = posted.peek()) != null; ) {
            int status = ucp.receiveStatus(p.request);
            if (status == UcpCalls.IN_PROGRESS) {
                return any;
            }
            posted.poll();
            long tag = ucp.infoTag();
            long length = ucp.infoLength();
            UcpCalls.free(p.request);
            p.finished(status, tag, length);
            any = true;
        }
        return any;
    }

    /**
     * Checks every pending operation once, in order; finished ones are freed and completed (which
     * may post new operations: those go to the tail and are checked next time).
     */
    private boolean pollPending() {
        boolean any = false;
        for (int n = pending.size(); n > 0; n--) {
            Pending p = pending.poll();
            int status = p.isReceive() ? ucp.receiveStatus(p.request) : UcpCalls.requestStatus(p.request);
            if (status == UcpCalls.IN_PROGRESS) {
                pending.add(p);
                continue;
            }
            long tag = p.isReceive() ? ucp.infoTag() : 0;
            long length = p.isReceive() ? ucp.infoLength() : 0;
            UcpCalls.free(p.request);
            p.finished(status, tag, length);
            any = true;
        }
        return any;
    }

    private boolean drainControl() {
        boolean any = false;
        for (Runnable r; (r = fromControl.poll()) != null; ) {
            r.run();
            any = true;
        }
        return any;
    }

    /** Tops the posted receives up to {@link #POSTED_RECEIVES}, as far as the pool allows. */
    private void postReceives() {
        while (posted.size() < POSTED_RECEIVES && !closing) {
            RegisteredBuffer buffer = pool.allocate(POSTED_BYTES);
            if (buffer == null) {
                return; // pool full: small messages wait in UCX and the probe takes them later
            }
            long r = ucp.receiveTagged(buffer.address(), buffer.length(), 0L, PART_BITS);
            if (UcpCalls.isRequest(r)) {
                posted.add(new FirstPartReceive(r, buffer, 0, FirstPartReceive.FROM_COMPLETION));
            } else {
                buffer.close();
                LOG.log(Level.WARNING, "posting a receive failed: {0}; small messages are probed for instead",
                        r == 0 ? "completed in place despite NO_IMM_CMPL" : UcpStatus.describe((int) r));
                return;
            }
        }
    }

    private void firstPartArrived(int status, long tag, long length, RegisteredBuffer buffer) {
        if (status == UcpCalls.OK) {
            headerArrived(sessionOf(tag), tag, buffer, length);
        } else {
            buffer.close();
            if (status != UcpCalls.ERR_CANCELED) {
                LOG.log(Level.WARNING, "receiving a first part failed: {0}", UcpStatus.describe(status));
            }
        }
    }

    private static long payloadTag(long headerTag) {
        return (headerTag & ~PART_BITS) | PART_PAYLOAD;
    }

    private boolean probeHeaders() {
        boolean any = false;
        for (int i = 0; i < PROBES_PER_PROGRESS; i++) {
            long message = ucp.probeAndRemove(0L, PART_PAYLOAD);
            if (message == 0) {
                return any;
            }
            any = true;
            receiveHeader(message, ucp.infoTag(), ucp.infoLength());
        }
        return any;
    }

    private void receiveHeader(long message, long tag, long length) {
        // The probe removed the message from UCX's queue, so it must be received now, even over budget.
        RegisteredBuffer headerBuf = pool.allocateOverBudget(length);
        long r = ucp.receiveMessage(headerBuf.address(), length, message);
        if (UcpCalls.isRequest(r)) {
            pending.add(new FirstPartReceive(r, headerBuf, tag, length));
        } else {
            // NULL: an eager message, copied out in place; or an error
            firstPartArrived(UcpCalls.statusOf(r), tag, length, headerBuf);
        }
    }

    /** A first part of {@code length} bytes arrived at the start of {@code headerBuf}. */
    private void headerArrived(int session, long tag, RegisteredBuffer headerBuf, long length) {
        InLink in = inLinks.get(session);
        if (in == null) {
            drainControl(); // the session may have been registered a moment ago
            in = inLinks.get(session);
        }
        MessageHeader header;
        try {
            if (in == null) {
                LOG.log(Level.WARNING, "dropped a message on unknown or closed UCX session {0}", session);
                headerBuf.close();
                return;
            }
            header = HeaderCodec.decode(headerBuf.segment().asSlice(0, length));
        } catch (RuntimeException e) {
            headerBuf.close();
            linkDead(in.link().id(), M2nStatus.PROTOCOL_ERROR, "bad header from " + in.link().describe() + ": "
                    + e.getMessage());
            return;
        }
        int headerLength = header.encodedLength();
        long payloadLength = header.payloadLength();
        if (payloadLength == 0) {
            headerBuf.close();
            events.onMessage(in.link(), header, pool.allocate(0));
        } else if (length == headerLength + payloadLength) {
            // Small payload sent inline behind the header: hand over the same buffer, no copy.
            events.onMessage(in.link(), header, headerBuf.narrow(headerLength, payloadLength));
        } else if (length == headerLength) {
            headerBuf.close();
            receivePayload(in, header, payloadTag(tag));
        } else {
            long got = length;
            headerBuf.close();
            linkDead(in.link().id(), M2nStatus.PROTOCOL_ERROR, "bad message from " + in.link().describe() + ": "
                    + got + " bytes for a header of " + headerLength + " and a payload of "
                    + payloadLength);
        }
    }

    private void receivePayload(InLink in, MessageHeader header, long tag) {
        if (inLinks.get(sessionOf(tag)) != in) {
            return; // link died while we waited for a buffer
        }
        RegisteredBuffer payload = pool.allocate(header.payloadLength());
        if (payload == null) {
            // Backpressure: the payload waits in UCX until a buffer comes back.
            waitingForBuffer.add(() -> receivePayload(in, header, tag));
            starved = true;
            return;
        }
        long r = ucp.receiveTagged(payload.address(), payload.length(), tag, -1L);
        if (UcpCalls.isRequest(r)) {
            // The rendezvous request has usually arrived already; on one host UCP then copies the
            // payload (cma) inside the call. Finishing it here saves a turn of the progress loop.
            int status = ucp.receiveStatus(r);
            if (status == UcpCalls.IN_PROGRESS) {
                pending.add(new PayloadReceive(r, in, header, payload));
            } else {
                long length = ucp.infoLength();
                UcpCalls.free(r);
                payloadFinished(in, header, payload, status, length);
            }
        } else {
            // An error (never NULL: tag receives are always requests, see UcpCalls)
            payloadFinished(in, header, payload, UcpCalls.statusOf(r), payload.length());
        }
    }

    private void payloadFinished(InLink in, MessageHeader header, RegisteredBuffer payload, int status, long length) {
        boolean linkUp = inLinks.get(in.link().id()) == in;
        if (status == UcpCalls.OK && linkUp && length == payload.length()) {
            events.onMessage(in.link(), header, payload);
            return;
        }
        payload.close();
        if (!linkUp) {
            return; // cancelled (or failed) because the link went down: already reported
        }
        String why = status != UcpCalls.OK ? UcpStatus.describe(status)
                : length + " payload bytes for a header announcing " + payload.length();
        linkDead(in.link().id(), M2nStatus.TRANSPORT_ERROR, "UCX receive from " + in.link().describe() + " failed: " + why);
    }

    private static int sessionOf(long tag) {
        return (int) (tag >>> SESSION_SHIFT);
    }

    private void linkDead(int linkId, String why) {
        linkDead(linkId, M2nStatus.PEER_DEAD, why);
    }

    private void linkDead(int linkId, M2nStatus status, String why) {
        OutLink out = outLinks.remove(linkId);
        if (out != null) {
            liveness.forget(linkId);
            if (out.spare != null) {
                out.spare.close();
                out.spare = null;
            }
            for (Send s : new ArrayList<>(out.inflight)) {
                s.finish(status, why);
            }
            try {
                out.ep.closeNonBlockingForce();
            } catch (RuntimeException e) {
                LOG.log(Level.DEBUG, "closing endpoint to {0}: {1}", out.link.describe(), e);
            }
            events.onLinkDown(out.link, status, why);
            return;
        }
        InLink in = inLinks.get(linkId);
        if (in != null) {
            // Messages the peer finished sending before it went away may still sit in the worker.
            drainWorker();
            inLinks.remove(linkId);
            liveness.forget(linkId);
            cancelReceives(in);
            events.onLinkDown(in.link(), status, why);
        }
    }

    /**
     * Asks UCP to cancel the payload receives of {@code in} (all inbound links when null); they
     * finish with UCS_ERR_CANCELED at a later progress, and only then are their buffers returned.
     */
    private void cancelReceives(InLink in) {
        for (Pending p : pending) {
            if (p instanceof PayloadReceive r && (in == null || r.in == in)) {
                ucp.cancel(r.request);
            } else if (in == null && p instanceof FirstPartReceive) {
                ucp.cancel(p.request);
            }
        }
        if (in == null) {
            for (FirstPartReceive p : posted) {
                ucp.cancel(p.request);
            }
        }
    }

    private void drainWorker() {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
        boolean any = true;
        while (any && System.nanoTime() < deadline) {
            any = false;
            while (ucp.progress() != 0) {
                any = true;
            }
            any |= pollPosted();
            any |= pollPending();
            any |= probeHeaders();
        }
    }

    @Override
    public void await(long maxNanos) {
        eventWait.await(maxNanos);
    }

    @Override
    public boolean supportsCallerProgress() {
        return true;
    }

    @Override
    public boolean arm() {
        return eventWait.arm();
    }

    @Override
    public void block(long maxNanos) {
        eventWait.block(maxNanos);
    }

    @Override
    public void wakeup() {
        if (!closed) {
            try {
                worker.signal();
            } catch (RuntimeException e) {
                // the worker closed between the check and the call: nobody is left to wake
            }
        }
    }

    @Override
    public void closeLink(Link link) {
        linkDead(link.id(), M2nStatus.CLOSED, "link closed locally");
    }

    @Override
    public void close() {
        control.close();
        liveness.close();
        for (OutLink out : new ArrayList<>(outLinks.values())) {
            if (out.spare != null) {
                out.spare.close();
                out.spare = null;
            }
            for (Send s : new ArrayList<>(out.inflight)) {
                s.finish(M2nStatus.CLOSED, "transport closed");
            }
            try {
                out.ep.closeNonBlockingForce();
            } catch (RuntimeException ignored) {
                // closing anyway
            }
        }
        outLinks.clear();
        inLinks.clear();
        closing = true;
        cancelReceives(null);
        // Let UCP finish (or cancel) what it holds, bounded, so no buffer goes back while UCX writes it.
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
        while (System.nanoTime() < deadline) {
            int events = ucp.progress();
            pollPosted();
            pollPending();
            if (events == 0 && pending.isEmpty() && posted.isEmpty()) {
                break;
            }
        }
        closed = true;
        pool.close();
        worker.close();
        context.close();
    }

    private void post(Runnable r) {
        fromControl.add(r);
        wakeup();
    }

    private static InetSocketAddress remoteOf(SocketChannel ch, InetSocketAddress fallback) {
        try {
            return (InetSocketAddress) ch.getRemoteAddress();
        } catch (IOException e) {
            return fallback;
        }
    }

    /** Runs on control threads; everything touching the worker is posted to the progress thread. */
    private final class ControlHandler implements ControlPlane.Handler {
        private final Map<Integer, Link> reserved = new ConcurrentHashMap<>();

        @Override
        public byte[] localInfo() {
            return workerAddress.clone();
        }

        @Override
        public int reserveSession(Handshake.Peer peer, InetSocketAddress remote, SocketChannel ch) {
            // Link ids double as session ids for inbound links, so a tag names its link directly.
            int id = linkIds.incrementAndGet();
            Link link = new Link(id, peer.nodeId(), remote, new InetSocketAddress(remote.getAddress(), peer.listenPort()),
                    false);
            reserved.put(id, link);
            // Registered before the peer is told it may send, so its first header finds the session.
            post(() -> {
                inLinks.put(id, new InLink(link));
                events.onInboundLink(link);
            });
            return id;
        }

        @Override
        public void inboundReady(int sessionId, SocketChannel ch) {
            Link link = reserved.remove(sessionId);
            liveness.watch(sessionId, ch, link.describe());
        }

        @Override
        public void inboundFailed(int sessionId, String detail) {
            reserved.remove(sessionId);
            post(() -> linkDead(sessionId, detail));
        }

        @Override
        public void dialled(InetSocketAddress address, SocketChannel ch, Handshake.Dialled result) {
            Link link = new Link(linkIds.incrementAndGet(), result.peer().nodeId(), remoteOf(ch, address), address, true);
            post(() -> {
                UcpEndpoint ep;
                try {
                    ByteBuffer peerAddress = ByteBuffer.allocateDirect(result.info().length).put(result.info()).flip();
                    ep = worker.newEndpoint(new UcpEndpointParams().setUcpAddress(peerAddress)
                            .setName("m2n-" + config.nodeId() + "-to-" + result.peer().nodeId()));
                } catch (RuntimeException e) {
                    ControlPlane.closeQuietly(ch);
                    events.onConnectFailed(address, M2nStatus.TRANSPORT_ERROR, "UCX endpoint to " + address
                            + " failed: " + e.getMessage());
                    return;
                }
                outLinks.put(link.id(), new OutLink(link, ep, result.sessionId()));
                liveness.watch(link.id(), ch, link.describe());
                events.onConnected(address, link);
            });
        }

        @Override
        public void dialFailed(InetSocketAddress address, M2nStatus status, String detail) {
            post(() -> events.onConnectFailed(address, status, detail));
        }
    }

    /** Registers pool slabs with the UCX context (one memory handle per slab, made once). */
    private record UcxRegistrar(UcpContext context) implements BufferPool.Registrar {
        @Override
        public Object register(MemorySegment segment) {
            return context.memoryMap(new UcpMemMapParams().setAddress(segment.address()).setLength(segment.byteSize()));
        }

        @Override
        public void deregister(Object handle) {
            ((UcpMemory) handle).deregister();
        }
    }
}
