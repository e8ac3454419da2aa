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
import org.openucx.jucx.UcxCallback;
import org.openucx.jucx.ucp.UcpContext;
import org.openucx.jucx.ucp.UcpEndpoint;
import org.openucx.jucx.ucp.UcpEndpointParams;
import org.openucx.jucx.ucp.UcpMemMapParams;
import org.openucx.jucx.ucp.UcpMemory;
import org.openucx.jucx.ucp.UcpParams;
import org.openucx.jucx.ucp.UcpRequest;
import org.openucx.jucx.ucp.UcpTagMessage;
import org.openucx.jucx.ucp.UcpWorker;
import org.openucx.jucx.ucp.UcpWorkerParams;

/**
 * The {@code ucx} transport: UCP tag messages on one worker driven by the node's progress
 * thread. The handshake runs over a TCP control connection, which hands the connector the
 * acceptor's worker address and a session id; the endpoint is then created from the worker
 * address without peer error handling, so UCX may pick shared memory (sysv/posix + cma) on one
 * host instead of tcp. The control connection stays open as the liveness channel.
 *
 * <p>A message with a payload of at most {@link #INLINE_PAYLOAD_MAX} bytes is one tagged send
 * (part 0: header, then payload). A larger one is two: the header (part 0) and the payload
 * (part 1, zero-copy rendezvous from the caller's registered memory); tags are
 * {@code session << 40 | seq << 1 | part}. The receiver probes for any part-0 message and
 * receives it into a pooled registered buffer; if it holds only the header, it then posts a
 * receive for the exact payload tag straight into another pooled buffer.
 */
public final class UcxTransport implements Transport {
    private static final System.Logger LOG = System.getLogger(UcxTransport.class.getName());
    private static final int SESSION_SHIFT = 40;
    private static final long PART_PAYLOAD = 1L;
    private static final long SEQ_MASK = (1L << (SESSION_SHIFT - 1)) - 1;
    private static final int PROBES_PER_PROGRESS = 64;
    /**
     * Payloads up to this size travel in the header's message (copied behind the header in the
     * registered scratch buffer): a copy of a few KiB costs less than a second UCX message.
     */
    static final long INLINE_PAYLOAD_MAX = 64 * 1024;

    /** One outbound link: endpoint, tag base, sends in flight. */
    private static final class OutLink {
        final Link link;
        final UcpEndpoint ep;
        final long tagBase;
        final Set<Send> inflight = new LinkedHashSet<>();
        long seq;

        OutLink(Link link, UcpEndpoint ep, int sessionId) {
            this.link = link;
            this.ep = ep;
            this.tagBase = ((long) sessionId) << SESSION_SHIFT;
        }
    }

    /** One inbound link: receives in flight into pooled buffers. */
    private static final class InLink {
        final Link link;
        // Identity set: jucx clears a request's native id on completion, which breaks its hashCode.
        final Set<UcpRequest> receiving = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

        InLink(Link link) {
            this.link = link;
        }
    }

    /** One message being sent: completes once every part completed, or at the first error. */
    private final class Send {
        final OutLink out;
        final RegisteredBuffer scratch;
        final SendCompletion done;
        int callbacksLeft;
        int partsLeft;
        boolean finished;

        Send(OutLink out, RegisteredBuffer scratch, SendCompletion done, int parts) {
            this.out = out;
            this.scratch = scratch;
            this.done = done;
            this.partsLeft = parts;
            this.callbacksLeft = parts;
        }

        UcxCallback callback() {
            return new UcxCallback() {
                @Override
                public void onSuccess(UcpRequest request) {
                    callbackFired();
                    if (--partsLeft == 0) {
                        finish(M2nStatus.OK, null);
                    }
                }

                @Override
                public void onError(int ucsStatus, String errorMsg) {
                    callbackFired();
                    finish(M2nStatus.TRANSPORT_ERROR, "UCX send to " + out.link.describe() + " failed: " + errorMsg
                            + " (status " + ucsStatus + ")");
                }
            };
        }

        private void callbackFired() {
            if (--callbacksLeft == 0) {
                scratch.close(); // UCX no longer reads the header bytes
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

    private final TransportConfig config;
    private final UcpContext context;
    private final UcpWorker worker;
    private final byte[] workerAddress;
    private final EventWait eventWait;
    private final BufferPool pool;
    private final ControlPlane control;
    private final LivenessMonitor liveness;
    private final ConcurrentLinkedQueue<Runnable> fromControl = new ConcurrentLinkedQueue<>();
    private final ArrayDeque<Runnable> deferred = new ArrayDeque<>();
    private final ArrayDeque<Runnable> waitingForBuffer = new ArrayDeque<>();
    private final Map<Integer, OutLink> outLinks = new HashMap<>();
    private final Map<Integer, InLink> inLinks = new HashMap<>();
    private final AtomicInteger linkIds = new AtomicInteger();
    private volatile boolean starved;
    private volatile boolean closed;
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
        boolean inline = payloadLength > 0 && payloadLength <= INLINE_PAYLOAD_MAX;
        RegisteredBuffer scratch = pool.allocate(inline ? headerLength + payloadLength : headerLength);
        if (scratch == null) {
            done.complete(M2nStatus.NO_RESOURCE, "buffer pool full (" + pool.maxBytes() + " bytes)");
            return;
        }
        HeaderCodec.encode(header, scratch.segment());
        if (inline) {
            MemorySegment.copy(MemorySegment.ofAddress(payloadAddress).reinterpret(payloadLength), 0,
                    scratch.segment(), headerLength, payloadLength);
        }
        long tag = out.tagBase | ((out.seq++ & SEQ_MASK) << 1);
        boolean separatePayload = payloadLength > 0 && !inline;
        Send send = new Send(out, scratch, done, separatePayload ? 2 : 1);
        out.inflight.add(send);
        try {
            out.ep.sendTaggedNonBlocking(scratch.address(), scratch.length(), tag, send.callback());
            if (separatePayload) {
                out.ep.sendTaggedNonBlocking(payloadAddress, payloadLength, tag | PART_PAYLOAD, send.callback());
            }
        } catch (RuntimeException e) {
            send.finish(M2nStatus.TRANSPORT_ERROR, "UCX send to " + link.describe() + " failed: " + e.getMessage());
        }
    }

    @Override
    public boolean progress() {
        boolean any = drainControl();
        try {
            while (worker.progress() != 0) {
                any = true;
            }
        } catch (Exception e) {
            throw new IllegalStateException("UCX worker progress failed", e);
        }
        any |= runDeferred();
        any |= probeHeaders();
        any |= runDeferred();
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

    private boolean drainControl() {
        boolean any = false;
        for (Runnable r; (r = fromControl.poll()) != null; ) {
            r.run();
            any = true;
        }
        return any;
    }

    private boolean runDeferred() {
        boolean any = false;
        for (Runnable r; (r = deferred.poll()) != null; ) {
            r.run();
            any = true;
        }
        return any;
    }

    private boolean probeHeaders() {
        boolean any = false;
        for (int i = 0; i < PROBES_PER_PROGRESS; i++) {
            UcpTagMessage msg = worker.tagProbeNonBlocking(0L, PART_PAYLOAD, true);
            if (msg == null) {
                return any;
            }
            any = true;
            receiveHeader(msg);
        }
        return any;
    }

    private void receiveHeader(UcpTagMessage msg) {
        long tag = msg.getSenderTag();
        long length = msg.getRecvLength();
        int session = (int) (tag >>> SESSION_SHIFT);
        // The probe removed the message from UCX's queue, so it must be received now, even over budget.
        RegisteredBuffer headerBuf = pool.allocateOverBudget(length);
        worker.recvTaggedMessageNonBlocking(headerBuf.address(), length, msg, new UcxCallback() {
            @Override
            public void onSuccess(UcpRequest request) {
                deferred.add(() -> headerArrived(session, tag, headerBuf));
            }

            @Override
            public void onError(int ucsStatus, String errorMsg) {
                headerBuf.close();
                LOG.log(Level.WARNING, "receiving a header on session {0} failed: {1}", session, errorMsg);
            }
        });
    }

    private void headerArrived(int session, long tag, RegisteredBuffer headerBuf) {
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
            header = HeaderCodec.decode(headerBuf.segment());
        } catch (RuntimeException e) {
            headerBuf.close();
            linkDead(in.link.id(), M2nStatus.PROTOCOL_ERROR, "bad header from " + in.link.describe() + ": "
                    + e.getMessage());
            return;
        }
        int headerLength = header.encodedLength();
        long payloadLength = header.payloadLength();
        if (payloadLength == 0) {
            headerBuf.close();
            events.onMessage(in.link, header, pool.allocate(0));
        } else if (headerBuf.length() == headerLength + payloadLength) {
            // Small payload sent inline behind the header: hand over the same buffer, no copy.
            events.onMessage(in.link, header, headerBuf.narrow(headerLength, payloadLength));
        } else if (headerBuf.length() == headerLength) {
            headerBuf.close();
            receivePayload(in, header, tag | PART_PAYLOAD);
        } else {
            long got = headerBuf.length();
            headerBuf.close();
            linkDead(in.link.id(), M2nStatus.PROTOCOL_ERROR, "bad message from " + in.link.describe() + ": "
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
        UcpRequest[] self = new UcpRequest[1];
        self[0] = worker.recvTaggedNonBlocking(payload.address(), payload.length(), tag, -1L, new UcxCallback() {
            @Override
            public void onSuccess(UcpRequest request) {
                deferred.add(() -> {
                    in.receiving.remove(self[0]);
                    if (inLinks.get(sessionOf(tag)) == in) {
                        events.onMessage(in.link, header, payload);
                    } else {
                        payload.close();
                    }
                });
            }

            @Override
            public void onError(int ucsStatus, String errorMsg) {
                deferred.add(() -> {
                    in.receiving.remove(self[0]);
                    payload.close();
                    if (inLinks.get(sessionOf(tag)) == in) {
                        linkDead(in.link.id(), M2nStatus.TRANSPORT_ERROR, "UCX receive from " + in.link.describe()
                                + " failed: " + errorMsg);
                    }
                });
            }
        });
        if (self[0] != null && !self[0].isCompleted()) {
            in.receiving.add(self[0]);
        }
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
            for (UcpRequest r : new ArrayList<>(in.receiving)) {
                if (!r.isCompleted()) {
                    worker.cancelRequest(r);
                }
            }
            events.onLinkDown(in.link, status, why);
        }
    }

    private void drainWorker() {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
        boolean any = true;
        while (any && System.nanoTime() < deadline) {
            any = false;
            try {
                while (worker.progress() != 0) {
                    any = true;
                }
            } catch (Exception e) {
                throw new IllegalStateException("UCX worker progress failed", e);
            }
            any |= runDeferred();
            any |= probeHeaders();
            any |= runDeferred();
        }
    }

    @Override
    public void await(long maxNanos) {
        eventWait.await(maxNanos);
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
        for (InLink in : inLinks.values()) {
            for (UcpRequest r : in.receiving) {
                if (!r.isCompleted()) {
                    worker.cancelRequest(r);
                }
            }
        }
        inLinks.clear();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
        while (System.nanoTime() < deadline) {
            try {
                if (worker.progress() == 0) {
                    break;
                }
            } catch (Exception e) {
                break;
            }
        }
        deferred.clear();
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
