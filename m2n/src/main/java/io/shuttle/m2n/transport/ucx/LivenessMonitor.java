package io.shuttle.m2n.transport.ucx;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * Watches the control sockets of UCX links. UCX endpoints here run without peer error handling
 * (that would force tcp and lose shared memory, see {@code m2n/README.md}), so a dead peer is
 * detected here instead: the kernel closes a killed process's sockets (EOF at once), and a hung
 * peer stops answering heartbeats (declared dead after the peer timeout).
 */
final class LivenessMonitor implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(LivenessMonitor.class.getName());

    private static final class Watched {
        final int linkId;
        final SocketChannel channel;
        final String peer;
        long lastReceived;
        SelectionKey key;

        Watched(int linkId, SocketChannel channel, String peer, long now) {
            this.linkId = linkId;
            this.channel = channel;
            this.peer = peer;
            this.lastReceived = now;
        }
    }

    private final Selector selector;
    private final Thread thread;
    private final long heartbeatNanos;
    private final long timeoutNanos;
    private final BiConsumer<Integer, String> onDead;
    private final ConcurrentLinkedQueue<Watched> added = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Integer> removed = new ConcurrentLinkedQueue<>();
    private final ByteBuffer scratch = ByteBuffer.allocateDirect(256);
    private final ByteBuffer beat = ByteBuffer.allocateDirect(1);
    private volatile boolean closed;

    LivenessMonitor(String name, long heartbeatNanos, long timeoutNanos, BiConsumer<Integer, String> onDead)
            throws IOException {
        this.selector = Selector.open();
        this.heartbeatNanos = heartbeatNanos;
        this.timeoutNanos = timeoutNanos;
        this.onDead = onDead;
        this.thread = new Thread(this::run, name);
        thread.setDaemon(true);
        thread.start();
    }

    /** Starts watching {@code ch} (already authenticated) for link {@code linkId}. */
    void watch(int linkId, SocketChannel ch, String peer) {
        added.add(new Watched(linkId, ch, peer, System.nanoTime()));
        selector.wakeup();
    }

    /** Stops watching and closes the control socket, which tells the peer the link is gone. */
    void forget(int linkId) {
        removed.add(linkId);
        selector.wakeup();
    }

    private void run() {
        java.util.Map<Integer, Watched> watched = new java.util.HashMap<>();
        long nextBeat = System.nanoTime();
        while (!closed) {
            try {
                selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(heartbeatNanos / 4)));
            } catch (IOException e) {
                LOG.log(Level.ERROR, "liveness selector failed: {0}", e);
                return;
            }
            long now = System.nanoTime();
            for (Watched w; (w = added.poll()) != null; ) {
                try {
                    w.channel.configureBlocking(false);
                    w.key = w.channel.register(selector, SelectionKey.OP_READ, w);
                    w.lastReceived = now;
                    watched.put(w.linkId, w);
                } catch (IOException e) {
                    close(w);
                    onDead.accept(w.linkId, "control connection to " + w.peer + " failed: " + e.getMessage());
                }
            }
            for (Integer id; (id = removed.poll()) != null; ) {
                Watched w = watched.remove(id);
                if (w != null) {
                    close(w);
                }
            }
            for (SelectionKey key : selector.selectedKeys()) {
                Watched w = (Watched) key.attachment();
                String dead = drain(w, now);
                if (dead != null && watched.remove(w.linkId) != null) {
                    close(w);
                    onDead.accept(w.linkId, dead);
                }
            }
            selector.selectedKeys().clear();
            boolean beatNow = now - nextBeat >= 0;
            if (beatNow) {
                nextBeat = now + heartbeatNanos;
            }
            for (Watched w : new ArrayList<>(watched.values())) {
                String dead = null;
                if (now - w.lastReceived > timeoutNanos) {
                    dead = "no heartbeat from " + w.peer + " for " + TimeUnit.NANOSECONDS.toMillis(now - w.lastReceived)
                            + " ms";
                } else if (beatNow) {
                    try {
                        beat.clear();
                        w.channel.write(beat);
                    } catch (IOException e) {
                        dead = "control connection to " + w.peer + " broke: " + e.getMessage();
                    }
                }
                if (dead != null) {
                    watched.remove(w.linkId);
                    close(w);
                    onDead.accept(w.linkId, dead);
                }
            }
        }
        for (Watched w : watched.values()) {
            close(w);
        }
    }

    private String drain(Watched w, long now) {
        try {
            while (true) {
                scratch.clear();
                int n = w.channel.read(scratch);
                if (n < 0) {
                    return "control connection closed by " + w.peer;
                }
                if (n == 0) {
                    return null;
                }
                w.lastReceived = now;
            }
        } catch (IOException e) {
            return "control connection to " + w.peer + " broke: " + e.getMessage();
        }
    }

    private static void close(Watched w) {
        if (w.key != null) {
            w.key.cancel();
        }
        try {
            w.channel.close();
        } catch (IOException ignored) {
            // already closing
        }
    }

    @Override
    public void close() {
        closed = true;
        selector.wakeup();
        try {
            thread.join(2000);
            selector.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException ignored) {
            // nothing left to report to
        }
    }
}
