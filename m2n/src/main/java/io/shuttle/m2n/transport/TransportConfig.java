package io.shuttle.m2n.transport;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;

/**
 * What every transport needs to know.
 *
 * @param deploymentId      shared by every node of a deployment; peers of another deployment are refused
 * @param nodeId            this node's id, presented in the handshake and written as the header's sender
 * @param secret            the deployment's shared secret (never sent; proven by HMAC over nonces)
 * @param bind              listen address; port 0 picks a free port
 * @param connectTimeout    bound on connect + handshake
 * @param heartbeatInterval how often an idle link sends a heartbeat
 * @param peerTimeout       a link with no traffic for this long is declared dead
 * @param maxPoolBytes      bound on registered receive and scratch memory
 * @param ucxNetDevices     value for UCX's NET_DEVICES (e.g. "lo"), empty for UCX's default
 */
public record TransportConfig(
        long deploymentId,
        int nodeId,
        byte[] secret,
        InetSocketAddress bind,
        Duration connectTimeout,
        Duration heartbeatInterval,
        Duration peerTimeout,
        long maxPoolBytes,
        Optional<String> ucxNetDevices) {

    public TransportConfig {
        if (secret == null || secret.length < 16) {
            throw new IllegalArgumentException("the deployment secret must have at least 16 bytes");
        }
        if (heartbeatInterval.compareTo(peerTimeout) >= 0) {
            throw new IllegalArgumentException("heartbeatInterval " + heartbeatInterval
                    + " must be shorter than peerTimeout " + peerTimeout);
        }
        secret = secret.clone();
    }

    @Override
    public byte[] secret() {
        return secret.clone();
    }

    @Override
    public String toString() {
        return "TransportConfig[deployment=" + deploymentId + ", node=" + nodeId + ", bind=" + bind + "]";
    }
}
