package io.shuttle.m2n.transport;

import io.shuttle.m2n.M2nStatus;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Mutual challenge–response on the deployment's shared secret, run on a blocking socket before
 * any data flows (layout in {@code m2n/README.md}). Both sides send a HELLO with a fresh 32-byte
 * nonce; each then proves knowledge of the secret with HMAC-SHA256 over both HELLOs, so the
 * secret never crosses the wire and a recorded proof is useless for another connection.
 */
public final class Handshake {
    /** Transport codes in HELLO: both ends must speak the same data transport. */
    public static final int TRANSPORT_TCP = 1;
    public static final int TRANSPORT_UCX = 2;

    static final int MAGIC = 0x4D324E48; // "M2NH"
    static final int VERSION = 1;
    static final int HELLO_LENGTH = 56;
    static final int NONCE_LENGTH = 32;
    static final int PROOF_LENGTH = 32;
    static final int MAX_INFO = 1 << 16;

    static final int ACCEPTED = 0;
    static final int REJECT_AUTH = 1;
    static final int REJECT_DEPLOYMENT = 2;
    static final int REJECT_TRANSPORT = 3;

    /** What we learned about an authenticated peer. */
    public record Peer(int nodeId, int listenPort, long deploymentId) {
    }

    /** Outcome of the dialling side: the peer, the session the acceptor assigned, its transport info. */
    public record Dialled(Peer peer, int sessionId, byte[] info) {
    }

    /** State the accepting side keeps between verifying the proof and confirming. */
    public record Verified(Peer peer, byte[] transcript) {
    }

    private final TransportConfig config;
    private final int transport;
    private final int listenPort;
    private final SecureRandom random = new SecureRandom();

    public Handshake(TransportConfig config, int transport, int listenPort) {
        this.config = config;
        this.transport = transport;
        this.listenPort = listenPort;
    }

    /** Connector side: hello, prove, verify the acceptor's proof, read the session and info. */
    public Dialled dial(SocketChannel ch, long deadlineNanos) throws IOException, HandshakeException {
        Io io = new Io(ch, deadlineNanos);
        byte[] mine = hello();
        io.write(mine);
        byte[] theirs = io.read(HELLO_LENGTH);
        Peer peer = parseHello(theirs);
        byte[] transcript = concat(mine, theirs);
        io.write(hmac("m2n-proof-connector", transcript));
        int code = io.read(1)[0];
        if (code != ACCEPTED) {
            int len = ByteBuffer.wrap(io.read(2)).getShort() & 0xffff;
            String reason = new String(io.read(len), StandardCharsets.UTF_8);
            throw new HandshakeException(code == REJECT_AUTH ? M2nStatus.AUTH_FAILED : M2nStatus.PROTOCOL_ERROR,
                    "refused by the peer: " + reason);
        }
        byte[] proof = io.read(PROOF_LENGTH);
        if (!MessageDigest.isEqual(proof, hmac("m2n-proof-acceptor", transcript))) {
            throw new HandshakeException(M2nStatus.AUTH_FAILED,
                    "the peer could not prove it knows the deployment secret");
        }
        ByteBuffer tail = ByteBuffer.wrap(io.read(8));
        int sessionId = tail.getInt();
        int infoLength = tail.getInt();
        if (infoLength < 0 || infoLength > MAX_INFO) {
            throw new HandshakeException(M2nStatus.PROTOCOL_ERROR, "transport info of " + infoLength + " bytes");
        }
        return new Dialled(peer, sessionId, io.read(infoLength));
    }

    /**
     * Acceptor side, first half: hello, read and check the connector's proof. On failure a
     * rejection is sent and the exception says why; the caller closes the socket.
     */
    public Verified verify(SocketChannel ch, long deadlineNanos) throws IOException, HandshakeException {
        Io io = new Io(ch, deadlineNanos);
        byte[] theirs = io.read(HELLO_LENGTH);
        Peer peer = parseHello(theirs);
        byte[] mine = hello();
        io.write(mine);
        byte[] transcript = concat(theirs, mine);
        byte[] proof = io.read(PROOF_LENGTH);
        if (!MessageDigest.isEqual(proof, hmac("m2n-proof-connector", transcript))) {
            reject(io, REJECT_AUTH, "proof of the deployment secret did not verify");
            throw new HandshakeException(M2nStatus.AUTH_FAILED,
                    "node " + peer.nodeId() + " did not prove it knows the deployment secret");
        }
        if (peer.deploymentId() != config.deploymentId()) {
            reject(io, REJECT_DEPLOYMENT, "deployment " + peer.deploymentId() + " is not " + config.deploymentId());
            throw new HandshakeException(M2nStatus.PROTOCOL_ERROR, "node " + peer.nodeId() + " belongs to deployment "
                    + peer.deploymentId() + ", this node to " + config.deploymentId());
        }
        int theirTransport = theirs[6];
        if (theirTransport != transport) {
            reject(io, REJECT_TRANSPORT, "this node speaks transport " + transportName(transport));
            throw new HandshakeException(M2nStatus.PROTOCOL_ERROR, "node " + peer.nodeId() + " speaks transport "
                    + transportName(theirTransport) + ", this node " + transportName(transport));
        }
        return new Verified(peer, transcript);
    }

    /** Acceptor side, second half: prove ourselves and hand over the session id and transport info. */
    public void confirm(SocketChannel ch, Verified verified, int sessionId, byte[] info, long deadlineNanos)
            throws IOException {
        Io io = new Io(ch, deadlineNanos);
        ByteBuffer out = ByteBuffer.allocate(1 + PROOF_LENGTH + 8 + info.length);
        out.put((byte) ACCEPTED).put(hmac("m2n-proof-acceptor", verified.transcript()))
                .putInt(sessionId).putInt(info.length).put(info);
        io.write(out.array());
    }

    private void reject(Io io, int code, String reason) {
        byte[] text = reason.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(3 + text.length);
        out.put((byte) code).putShort((short) text.length).put(text);
        try {
            io.write(out.array());
        } catch (IOException ignored) {
            // The peer may already be gone; the refusal is logged by the caller either way.
        }
    }

    private byte[] hello() {
        byte[] nonce = new byte[NONCE_LENGTH];
        random.nextBytes(nonce);
        ByteBuffer b = ByteBuffer.allocate(HELLO_LENGTH);
        b.putInt(MAGIC).putShort((short) VERSION).put((byte) transport).put((byte) 0)
                .putLong(config.deploymentId()).putInt(config.nodeId()).putInt(listenPort).put(nonce);
        return b.array();
    }

    private static Peer parseHello(byte[] hello) throws HandshakeException {
        ByteBuffer b = ByteBuffer.wrap(hello);
        int magic = b.getInt();
        int version = b.getShort() & 0xffff;
        if (magic != MAGIC) {
            throw new HandshakeException(M2nStatus.PROTOCOL_ERROR, String.format("not an m2n peer (magic 0x%08x)", magic));
        }
        if (version != VERSION) {
            throw new HandshakeException(M2nStatus.PROTOCOL_ERROR, "handshake version " + version
                    + " is not supported (this build speaks " + VERSION + ")");
        }
        b.get();
        b.get();
        long deployment = b.getLong();
        int nodeId = b.getInt();
        int port = b.getInt();
        return new Peer(nodeId, port, deployment);
    }

    private byte[] hmac(String label, byte[] transcript) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(config.secret(), "HmacSHA256"));
            mac.update(label.getBytes(StandardCharsets.US_ASCII));
            return mac.doFinal(transcript);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available in this JDK", e);
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = new byte[a.length + b.length];
        System.arraycopy(a, 0, r, 0, a.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    static String transportName(int code) {
        return switch (code) {
            case TRANSPORT_TCP -> "tcp";
            case TRANSPORT_UCX -> "ucx";
            default -> "unknown(" + code + ")";
        };
    }

    /** Blocking reads and writes with the handshake's deadline applied to every read. */
    private static final class Io {
        private final SocketChannel ch;
        private final long deadline;
        private final InputStream in;
        private final OutputStream out;

        Io(SocketChannel ch, long deadline) throws IOException {
            this.ch = ch;
            this.deadline = deadline;
            this.in = ch.socket().getInputStream();
            this.out = ch.socket().getOutputStream();
        }

        byte[] read(int n) throws IOException {
            byte[] b = new byte[n];
            int off = 0;
            while (off < n) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new SocketTimeoutException("handshake timed out");
                }
                ch.socket().setSoTimeout((int) Math.max(1, left / 1_000_000));
                int r = in.read(b, off, n - off);
                if (r < 0) {
                    throw new EOFException("connection closed during the handshake");
                }
                off += r;
            }
            return b;
        }

        void write(byte[] b) throws IOException {
            out.write(b);
            out.flush();
        }
    }
}
