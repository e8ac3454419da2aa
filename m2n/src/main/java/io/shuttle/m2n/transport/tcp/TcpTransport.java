package io.shuttle.m2n.transport.tcp;

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
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The {@code tcp} transport: java.nio sockets, one selector driven by the node's progress
 * thread, the same header bytes as {@code ucx} followed by the payload on the same stream. It is
 * the fallback when UCX cannot load and the baseline the UCX numbers are compared with.
 */
public final class TcpTransport implements Transport {
    private final Selector selector;
    private final ControlPlane control;
    private final BufferPool pool;
    private final ConcurrentLinkedQueue<Runnable> fromControl = new ConcurrentLinkedQueue<>();
    private final Map<Integer, TcpLink> links = new HashMap<>();
    private final AtomicInteger linkIds = new AtomicInteger();
    private final long heartbeatNanos;
    private final long peerTimeoutNanos;
    private TransportEvents events;
    private long nextLivenessCheck;
    /** Set while some link waits for a pool buffer, so releases wake the progress thread. */
    private volatile boolean starved;

    public TcpTransport(TransportConfig config) throws IOException {
        this.selector = Selector.open();
        this.pool = new BufferPool(config.maxPoolBytes(), BufferPool.Registrar.NONE);
        this.heartbeatNanos = config.heartbeatInterval().toNanos();
        this.peerTimeoutNanos = config.peerTimeout().toNanos();
        this.control = new ControlPlane(config, Handshake.TRANSPORT_TCP, new ControlHandler());
        pool.onRelease(() -> {
            if (starved) {
                wakeup();
            }
        });
    }

    @Override
    public String name() {
        return "tcp";
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
        TcpLink l = links.get(link.id());
        if (l == null) {
            done.complete(M2nStatus.PEER_DEAD, "link to " + link.describe() + " is closed");
            return;
        }
        RegisteredBuffer headerBytes = pool.allocate(header.encodedLength());
        if (headerBytes == null) {
            done.complete(M2nStatus.NO_RESOURCE, "buffer pool full (" + pool.maxBytes() + " bytes)");
            return;
        }
        HeaderCodec.encode(header, headerBytes.segment());
        l.enqueue(headerBytes, payloadAddress, payloadLength, done);
        try {
            l.flush(System.nanoTime());
        } catch (IOException e) {
            drop(l, M2nStatus.PEER_DEAD, "write to " + link.describe() + " failed: " + e.getMessage());
        }
    }

    @Override
    public boolean progress() {
        boolean any = false;
        for (Runnable r; (r = fromControl.poll()) != null; ) {
            r.run();
            any = true;
        }
        long now = System.nanoTime();
        try {
            // Keys selected by a blocking select in await() are still in the set: always look.
            selector.selectNow();
            any |= handleSelected(now);
        } catch (IOException e) {
            throw new UncheckedIOException("selector failed", e);
        }
        if (starved) {
            boolean still = false;
            for (TcpLink l : new ArrayList<>(links.values())) {
                if (l.waitingForBuffer()) {
                    any |= readFrom(l, now);
                    still |= l.waitingForBuffer();
                }
            }
            starved = still;
        }
        if (now - nextLivenessCheck >= 0) {
            checkLiveness(now);
            nextLivenessCheck = now + heartbeatNanos / 4;
        }
        return any;
    }

    private boolean handleSelected(long now) {
        boolean any = false;
        Iterator<SelectionKey> it = selector.selectedKeys().iterator();
        while (it.hasNext()) {
            SelectionKey key = it.next();
            it.remove();
            TcpLink l = (TcpLink) key.attachment();
            if (!key.isValid() || links.get(l.link.id()) != l) {
                continue;
            }
            if (key.isWritable()) {
                try {
                    any |= l.flush(now);
                } catch (IOException e) {
                    drop(l, M2nStatus.PEER_DEAD, "write to " + l.link.describe() + " failed: " + e.getMessage());
                    continue;
                }
            }
            if (key.isValid() && key.isReadable()) {
                any |= readFrom(l, now);
            }
        }
        return any;
    }

    private boolean readFrom(TcpLink l, long now) {
        try {
            boolean any = l.read(events, now);
            if (l.waitingForBuffer()) {
                starved = true;
            }
            return any;
        } catch (IOException e) {
            drop(l, M2nStatus.PEER_DEAD, e.getMessage());
        } catch (RuntimeException e) {
            drop(l, M2nStatus.PROTOCOL_ERROR, "bad data from " + l.link.describe() + ": " + e.getMessage());
        }
        return true;
    }

    private void checkLiveness(long now) {
        for (TcpLink l : new ArrayList<>(links.values())) {
            if (l.waitingForBuffer()) {
                // We stopped reading (pool full), so the peer's bytes and heartbeats wait in the
                // socket: silence is ours, not the peer's.
                l.lastReceived = now;
            }
            if (now - l.lastReceived > peerTimeoutNanos) {
                drop(l, M2nStatus.PEER_DEAD, "no traffic from " + l.link.describe() + " for "
                        + TimeUnit.NANOSECONDS.toMillis(now - l.lastReceived) + " ms");
            } else if (now - l.lastSent > heartbeatNanos && !l.hasPendingWrites()) {
                l.enqueueHeartbeat();
                try {
                    l.flush(now);
                } catch (IOException e) {
                    drop(l, M2nStatus.PEER_DEAD, "write to " + l.link.describe() + " failed: " + e.getMessage());
                }
            }
        }
    }

    private void drop(TcpLink l, M2nStatus status, String detail) {
        if (links.remove(l.link.id()) == null) {
            return;
        }
        l.key.cancel();
        closeQuietly(l.channel);
        l.abort(status, detail);
        events.onLinkDown(l.link, status, detail);
    }

    private void adopt(Link link, SocketChannel ch) {
        try {
            ch.configureBlocking(false);
            SelectionKey key = ch.register(selector, SelectionKey.OP_READ);
            TcpLink l = new TcpLink(link, ch, key, pool, System.nanoTime());
            key.attach(l);
            links.put(link.id(), l);
        } catch (IOException e) {
            closeQuietly(ch);
            throw new UncheckedIOException("cannot register the connection to " + link.describe(), e);
        }
    }

    @Override
    public void await(long maxNanos) {
        try {
            long ms = Math.max(1, TimeUnit.NANOSECONDS.toMillis(maxNanos));
            selector.select(ms);
        } catch (IOException e) {
            throw new UncheckedIOException("selector failed", e);
        }
    }

    @Override
    public void wakeup() {
        selector.wakeup();
    }

    @Override
    public void closeLink(Link link) {
        TcpLink l = links.get(link.id());
        if (l != null) {
            drop(l, M2nStatus.CLOSED, "link closed locally");
        }
    }

    @Override
    public void close() {
        control.close();
        for (TcpLink l : new ArrayList<>(links.values())) {
            links.remove(l.link.id());
            closeQuietly(l.channel);
            l.abort(M2nStatus.CLOSED, "transport closed");
        }
        try {
            selector.close();
        } catch (IOException ignored) {
            // nothing left to report to
        }
        pool.close();
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // already failing
        }
    }

    private static InetSocketAddress listenOf(InetSocketAddress remote, int port) {
        return new InetSocketAddress(remote.getAddress(), port);
    }

    /** Runs on control threads; hands every outcome to the progress thread through the queue. */
    private final class ControlHandler implements ControlPlane.Handler {
        private final Map<Integer, Link> reserved = new java.util.concurrent.ConcurrentHashMap<>();

        @Override
        public byte[] localInfo() {
            return new byte[0];
        }

        @Override
        public int reserveSession(Handshake.Peer peer, InetSocketAddress remote, SocketChannel ch) {
            int id = linkIds.incrementAndGet();
            reserved.put(id, new Link(id, peer.nodeId(), remote, listenOf(remote, peer.listenPort()), false));
            return id;
        }

        @Override
        public void inboundReady(int sessionId, SocketChannel ch) {
            Link link = reserved.remove(sessionId);
            post(() -> {
                try {
                    adopt(link, ch);
                } catch (UncheckedIOException e) {
                    return; // the peer sees the close and reports it; nothing was promised here
                }
                events.onInboundLink(link);
            });
        }

        @Override
        public void inboundFailed(int sessionId, String detail) {
            reserved.remove(sessionId);
        }

        @Override
        public void dialled(InetSocketAddress address, SocketChannel ch, Handshake.Dialled result) {
            InetSocketAddress remote = remoteOf(ch, address);
            Link link = new Link(linkIds.incrementAndGet(), result.peer().nodeId(), remote, address, true);
            post(() -> {
                try {
                    adopt(link, ch);
                } catch (UncheckedIOException e) {
                    events.onConnectFailed(address, M2nStatus.CONNECT_FAILED, e.getMessage());
                    return;
                }
                events.onConnected(address, link);
            });
        }

        @Override
        public void dialFailed(InetSocketAddress address, M2nStatus status, String detail) {
            post(() -> events.onConnectFailed(address, status, detail));
        }

        private void post(Runnable r) {
            fromControl.add(r);
            wakeup();
        }
    }

    static InetSocketAddress remoteOf(SocketChannel ch, InetSocketAddress fallback) {
        try {
            return (InetSocketAddress) ch.getRemoteAddress();
        } catch (IOException e) {
            return fallback;
        }
    }
}
