package io.shuttle.e2e.kube;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where a pod's container port lives on this machine. Every pod here shares 127.0.0.1, so each
 * (pod, container port) gets its own host port; the mapping is keyed by the pod's name, which a
 * StatefulSet keeps stable, so a restarted or re-created pod is found again at the same address
 * (as its DNS name would be on a cluster).
 */
final class HostPorts {
    private final Map<String, Integer> ports = new ConcurrentHashMap<>();
    private final Random random;

    HostPorts(long seed) {
        this.random = new Random(seed);
    }

    /** The host port standing for {@code containerPort} of pod {@code pod}. */
    int port(String pod, int containerPort) {
        return ports.computeIfAbsent(pod + ":" + containerPort, k -> freePort());
    }

    /**
     * A free port below Linux's ephemeral range (32768+): the port is written into the plan
     * before the process binds it, and an ephemeral port could meanwhile be taken by an outgoing
     * connection.
     */
    private synchronized int freePort() {
        for (int attempt = 0; attempt < 500; attempt++) {
            int port = 20_000 + random.nextInt(12_000);
            if (ports.containsValue(port)) {
                continue;
            }
            try (ServerSocket s = new ServerSocket()) {
                s.setReuseAddress(false);
                s.bind(new InetSocketAddress("127.0.0.1", port));
                return port;
            } catch (IOException taken) {
                // try another one
            }
        }
        throw new UncheckedIOException(new IOException("no free port found in 20000-31999 on 127.0.0.1"));
    }
}
