package io.shuttle.m2n.transport;

import io.shuttle.m2n.M2nStatus;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The listening socket, the accept thread and the handshakes, shared by both transports. Each
 * connection is authenticated on a blocking socket by a small pool of handshake threads, then
 * handed to the transport through {@link Handler}; the progress thread never blocks on a peer.
 */
public final class ControlPlane implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ControlPlane.class.getName());

    /** The transport's side of connection set-up; called on control threads, never the progress thread. */
    public interface Handler {
        /** Transport info the acceptor hands to a connector (UCX: the worker address). */
        byte[] localInfo();

        /** An inbound peer passed verification; reserve its session before it is told it may send. */
        int reserveSession(Handshake.Peer peer, InetSocketAddress remote, SocketChannel ch);

        /** The peer was told it may send; the transport now owns {@code ch}. */
        void inboundReady(int sessionId, SocketChannel ch);

        /** Confirming a reserved session failed; the transport must drop it. */
        void inboundFailed(int sessionId, String detail);

        /** An outbound connection passed the handshake; the transport now owns {@code ch}. */
        void dialled(InetSocketAddress address, SocketChannel ch, Handshake.Dialled result);

        /** An outbound connection failed. */
        void dialFailed(InetSocketAddress address, M2nStatus status, String detail);
    }

    private final TransportConfig config;
    private final Handler handler;
    private final ServerSocketChannel server;
    private final InetSocketAddress localAddress;
    private final Handshake handshake;
    private final ExecutorService workers;
    private final Thread acceptThread;
    private final AtomicInteger sessionIds = new AtomicInteger();
    private volatile boolean closed;

    public ControlPlane(TransportConfig config, int transportCode, Handler handler) throws IOException {
        this.config = config;
        this.handler = handler;
        this.server = ServerSocketChannel.open();
        server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
        server.bind(config.bind(), 128);
        this.localAddress = (InetSocketAddress) server.getLocalAddress();
        this.handshake = new Handshake(config, transportCode, localAddress().getPort());
        AtomicInteger threadNo = new AtomicInteger();
        this.workers = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "m2n-handshake-" + config.nodeId() + "-" + threadNo.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.acceptThread = new Thread(this::acceptLoop, "m2n-accept-" + config.nodeId());
        acceptThread.setDaemon(true);
    }

    /** The bound listen address (with the real port when 0 was asked for). */
    public InetSocketAddress localAddress() {
        return localAddress;
    }

    public void start() {
        acceptThread.start();
    }

    /** Next session id; ids are never reused within this control plane's life. */
    public int nextSessionId() {
        return sessionIds.incrementAndGet();
    }

    /** Connects and authenticates in the background; the outcome goes to the handler. */
    public void dial(InetSocketAddress address) {
        try {
            workers.execute(() -> runDial(address));
        } catch (RejectedExecutionException e) {
            handler.dialFailed(address, M2nStatus.CLOSED, "node is closing");
        }
    }

    private void runDial(InetSocketAddress address) {
        long deadline = System.nanoTime() + config.connectTimeout().toNanos();
        SocketChannel ch = null;
        try {
            ch = SocketChannel.open();
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            ch.socket().connect(address, (int) Math.max(1, config.connectTimeout().toMillis()));
            Handshake.Dialled result = handshake.dial(ch, deadline);
            handler.dialled(address, ch, result);
        } catch (HandshakeException e) {
            closeQuietly(ch);
            LOG.log(Level.WARNING, "connection to {0} refused: {1}", address, e.getMessage());
            handler.dialFailed(address, e.status(), e.getMessage());
        } catch (IOException | RuntimeException e) {
            closeQuietly(ch);
            handler.dialFailed(address, M2nStatus.CONNECT_FAILED, "cannot connect to " + address + ": " + e);
        }
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) {
                    LOG.log(Level.WARNING, "accept failed on {0}: {1}", config.bind(), e);
                }
                continue;
            }
            try {
                workers.execute(() -> runAccept(ch));
            } catch (RejectedExecutionException e) {
                closeQuietly(ch);
            }
        }
    }

    private void runAccept(SocketChannel ch) {
        long deadline = System.nanoTime() + config.connectTimeout().toNanos();
        InetSocketAddress remote = null;
        int session = -1;
        try {
            remote = (InetSocketAddress) ch.getRemoteAddress();
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            Handshake.Verified verified = handshake.verify(ch, deadline);
            session = handler.reserveSession(verified.peer(), remote, ch);
            handshake.confirm(ch, verified, session, handler.localInfo(), deadline);
            handler.inboundReady(session, ch);
        } catch (HandshakeException e) {
            LOG.log(Level.WARNING, "refused connection from {0}: {1}", remote, e.getMessage());
            closeQuietly(ch);
        } catch (IOException | RuntimeException e) {
            if (session >= 0) {
                handler.inboundFailed(session, "handshake with " + remote + " failed: " + e);
            } else if (!closed) {
                LOG.log(Level.INFO, "handshake with {0} failed: {1}", remote, e);
            }
            closeQuietly(ch);
        }
    }

    @Override
    public void close() {
        closed = true;
        closeQuietly(server);
        workers.shutdownNow();
        try {
            acceptThread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Closes a channel on an error path, keeping the first error as the one reported. */
    public static void closeQuietly(java.nio.channels.Channel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing on an error path; the first error is what gets reported
            }
        }
    }
}
