package io.shuttle.m2n;

import io.shuttle.m2n.transport.RegisteredBuffer;
import io.shuttle.m2n.wire.PayloadType;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.Socket;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The transport contract over {@code tcp}, plus what only a socket-level peer can do to it. */
class TcpTransportContractTest extends TransportContract {
    @Override
    TransportKind kind() {
        return TransportKind.TCP;
    }

    @Test
    void aStrangerSendingGarbageIsDisconnectedAndPeersAreUnaffected() throws Exception {
        M2nNode a = node(config(1));
        M2nNode b = node(config(2));
        byte[] junk = new byte[256];
        new SplittableRandom(9).nextBytes(junk);
        try (Socket stranger = new Socket(b.address().getAddress(), b.address().getPort())) {
            stranger.setSoTimeout((int) WAIT.toMillis());
            stranger.getOutputStream().write(junk);
            stranger.getOutputStream().flush();
            InputStream in = stranger.getInputStream();
            long deadline = System.nanoTime() + WAIT.toNanos();
            int r = 0;
            try {
                while (r >= 0 && System.nanoTime() < deadline) {
                    r = in.read(new byte[512]); // whatever the node says before it hangs up, then EOF
                }
            } catch (java.net.SocketException reset) {
                r = -1; // closed with a reset: also a refusal
            }
            assertEquals(-1, r, "the node must close a connection that fails the handshake");
        }
        RegisteredBuffer data = filled(a, 4096, 3);
        var received = b.collectDispatch(0, 0, 0, Set.of(1), WAIT);
        a.dispatch(0, 0, 0, List.of(Outgoing.rows(b.address(), data.segment(), 1, PayloadType.U8)))
                .get(WAIT.toSeconds(), TimeUnit.SECONDS);
        try (ReceivedRound round = received.get(WAIT.toSeconds(), TimeUnit.SECONDS)) {
            assertTrue(round.from(1).payload().mismatch(data.segment()) == -1, "a real peer still gets through");
        }
    }
}
