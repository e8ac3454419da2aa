package io.shuttle.m2n;

import io.shuttle.m2n.transport.TransportConfig;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;

/**
 * Everything a node needs; immutable. Start from {@link #of} and change what differs with the
 * {@code with*} methods.
 *
 * @param deploymentId      shared by every node of a deployment
 * @param nodeId            this node's id: the header's sender, and what receivers name in collect
 * @param secret            the deployment's shared secret (at least 16 bytes)
 * @param bind              listen address (port 0: any free port)
 * @param transport         auto, ucx or tcp
 * @param connectTimeout    bound on connect + handshake
 * @param heartbeatInterval idle links send a heartbeat this often
 * @param peerTimeout       a silent peer is declared dead after this long (a killed one at once)
 * @param sendTimeout       a send round not locally complete after this long fails with TIMEOUT
 * @param unclaimedTtl      messages nobody collected are dropped after this long
 * @param maxPoolBytes      bound on registered memory for received payloads and scratch
 * @param maxInflightSends  bound on messages submitted but not yet complete
 * @param spin              the progress thread busy-polls this long after the last activity before blocking,
 *                          when nothing is expected
 * @param activeSpin        the same while a round is being collected or sends are in flight (a reply is
 *                          expected soon): waking a blocked thread costs far more than the reply takes
 * @param ucxNetDevices     UCX NET_DEVICES (e.g. "lo"); empty for UCX's default
 */
public record NodeConfig(
        long deploymentId,
        int nodeId,
        byte[] secret,
        InetSocketAddress bind,
        TransportKind transport,
        Duration connectTimeout,
        Duration heartbeatInterval,
        Duration peerTimeout,
        Duration sendTimeout,
        Duration unclaimedTtl,
        long maxPoolBytes,
        int maxInflightSends,
        Duration spin,
        Duration activeSpin,
        Optional<String> ucxNetDevices) {

    public NodeConfig {
        if (nodeId < 0) {
            throw new IllegalArgumentException("nodeId must be >= 0, got " + nodeId);
        }
        if (maxInflightSends <= 0) {
            throw new IllegalArgumentException("maxInflightSends must be positive");
        }
        if (spin.isNegative() || activeSpin.isNegative()) {
            throw new IllegalArgumentException("spin times must not be negative");
        }
        secret = secret.clone();
    }

    /** The former canonical constructor, kept for source compatibility: active spin at its default. */
    public NodeConfig(long deploymentId, int nodeId, byte[] secret, InetSocketAddress bind, TransportKind transport,
            Duration connectTimeout, Duration heartbeatInterval, Duration peerTimeout, Duration sendTimeout,
            Duration unclaimedTtl, long maxPoolBytes, int maxInflightSends, Duration spin,
            Optional<String> ucxNetDevices) {
        this(deploymentId, nodeId, secret, bind, transport, connectTimeout, heartbeatInterval, peerTimeout, sendTimeout,
                unclaimedTtl, maxPoolBytes, maxInflightSends, spin, DEFAULT_ACTIVE_SPIN, ucxNetDevices);
    }

    /** Default {@link #activeSpin}: covers a round trip of a few MiB on one host. */
    public static final Duration DEFAULT_ACTIVE_SPIN = Duration.ofMillis(2);

    /**
     * Defaults: loopback, any port, auto transport, peers declared dead after 3 s of silence, a
     * 50 µs spin before an idle progress thread blocks, and 2 ms while a reply is expected (the
     * thread yields its core after the first 20 µs, so other runnable work is not starved; see
     * docs/BENCHMARKS.md, M2N).
     */
    public static NodeConfig of(long deploymentId, int nodeId, byte[] secret) {
        return new NodeConfig(deploymentId, nodeId, secret, new InetSocketAddress("127.0.0.1", 0), TransportKind.AUTO,
                Duration.ofSeconds(10), Duration.ofMillis(500), Duration.ofSeconds(3), Duration.ofSeconds(30),
                Duration.ofSeconds(60), 4L << 30, 65536, Duration.ofNanos(50_000), DEFAULT_ACTIVE_SPIN, Optional.empty());
    }

    public NodeConfig withBind(InetSocketAddress bind) {
        return new NodeConfig(deploymentId, nodeId, secret, bind, transport, connectTimeout, heartbeatInterval,
                peerTimeout, sendTimeout, unclaimedTtl, maxPoolBytes, maxInflightSends, spin, activeSpin, ucxNetDevices);
    }

    public NodeConfig withTransport(TransportKind transport) {
        return new NodeConfig(deploymentId, nodeId, secret, bind, transport, connectTimeout, heartbeatInterval,
                peerTimeout, sendTimeout, unclaimedTtl, maxPoolBytes, maxInflightSends, spin, activeSpin, ucxNetDevices);
    }

    /** Peer-death bound; the heartbeat interval becomes a sixth of it. */
    public NodeConfig withPeerTimeout(Duration peerTimeout) {
        return new NodeConfig(deploymentId, nodeId, secret, bind, transport, connectTimeout, peerTimeout.dividedBy(6),
                peerTimeout, sendTimeout, unclaimedTtl, maxPoolBytes, maxInflightSends, spin, activeSpin, ucxNetDevices);
    }

    public NodeConfig withSendTimeout(Duration sendTimeout) {
        return new NodeConfig(deploymentId, nodeId, secret, bind, transport, connectTimeout, heartbeatInterval,
                peerTimeout, sendTimeout, unclaimedTtl, maxPoolBytes, maxInflightSends, spin, activeSpin, ucxNetDevices);
    }

    public NodeConfig withSpin(Duration spin) {
        return new NodeConfig(deploymentId, nodeId, secret, bind, transport, connectTimeout, heartbeatInterval,
                peerTimeout, sendTimeout, unclaimedTtl, maxPoolBytes, maxInflightSends, spin, activeSpin, ucxNetDevices);
    }

    /** Busy-poll time while a reply is expected (a round being collected, sends in flight). */
    public NodeConfig withActiveSpin(Duration activeSpin) {
        return new NodeConfig(deploymentId, nodeId, secret, bind, transport, connectTimeout, heartbeatInterval,
                peerTimeout, sendTimeout, unclaimedTtl, maxPoolBytes, maxInflightSends, spin, activeSpin, ucxNetDevices);
    }

    public NodeConfig withMaxPoolBytes(long maxPoolBytes) {
        return new NodeConfig(deploymentId, nodeId, secret, bind, transport, connectTimeout, heartbeatInterval,
                peerTimeout, sendTimeout, unclaimedTtl, maxPoolBytes, maxInflightSends, spin, activeSpin, ucxNetDevices);
    }

    public NodeConfig withUcxNetDevices(String devices) {
        return new NodeConfig(deploymentId, nodeId, secret, bind, transport, connectTimeout, heartbeatInterval,
                peerTimeout, sendTimeout, unclaimedTtl, maxPoolBytes, maxInflightSends, spin, activeSpin, Optional.of(devices));
    }

    @Override
    public byte[] secret() {
        return secret.clone();
    }

    /** The part the transport sees. */
    public TransportConfig transportConfig() {
        return new TransportConfig(deploymentId, nodeId, secret, bind, connectTimeout, heartbeatInterval, peerTimeout,
                maxPoolBytes, ucxNetDevices);
    }

    @Override
    public String toString() {
        return "NodeConfig[deployment=" + deploymentId + ", node=" + nodeId + ", bind=" + bind + ", transport="
                + transport + ", peerTimeout=" + peerTimeout + "]";
    }
}
