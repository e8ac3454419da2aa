package io.shuttle.m2n;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Real processes on loopback, for both transports: M=2 senders x N=3 receivers over many rounds
 * (0 rows to 64 MiB, every byte checked at both ends), a receiver joining mid-run, a sender
 * killed with SIGKILL mid-run, and a peer with the wrong secret.
 */
class M2nMultiProcessTest {
    private final List<ChildJvm> children = new ArrayList<>();
    private final String secret = newSecret();

    @AfterEach
    void killChildren() {
        children.forEach(ChildJvm::close);
        children.clear();
    }

    private static void require(TransportKind kind) {
        if (kind == TransportKind.UCX) {
            Ucx.requireUcx();
        }
    }

    /**
     * How long a silent peer is tolerated. Generous by default: these tests check bytes and
     * membership, and on a loaded 2-core CI machine a starved child JVM can miss 3 s of
     * heartbeats; the kill test sets the production default back to measure detection.
     */
    private long peerTimeoutMillis = 15_000;

    private ChildJvm start(String name, String secretHex, String... args) throws IOException {
        ChildJvm c = new ChildJvm(name, Map.of("M2N_SECRET", secretHex,
                "M2N_PEER_TIMEOUT_MS", Long.toString(peerTimeoutMillis)), args);
        children.add(c);
        return c;
    }

    private static String peers(String tag, Map<Integer, Integer> ports) {
        StringBuilder sb = new StringBuilder(tag).append(' ');
        ports.forEach((id, port) -> sb.append(id).append("=127.0.0.1:").append(port).append(','));
        sb.setLength(sb.length() - 1);
        return sb.toString();
    }

    @ParameterizedTest
    @EnumSource(value = TransportKind.class, names = {"TCP", "UCX"})
    void twoSendersThreeReceiversManyRoundsEveryByteChecked(TransportKind kind) throws Exception {
        require(kind);
        String t = kind.name().toLowerCase();
        int rounds = 12;
        Map<Integer, Integer> recvPorts = new java.util.TreeMap<>();
        List<ChildJvm> receivers = new ArrayList<>();
        for (int r = 10; r < 13; r++) {
            ChildJvm c = start("receiver-" + r, secret, "receiver", "" + r, t, "0", "" + rounds);
            receivers.add(c);
        }
        List<ChildJvm> senders = new ArrayList<>();
        for (int s = 0; s < 2; s++) {
            senders.add(start("sender-" + s, secret, "sender", "" + s, t, "" + rounds, "-1"));
        }
        for (int r = 0; r < 3; r++) {
            recvPorts.put(10 + r, receivers.get(r).port());
        }
        Map<Integer, Integer> sendPorts = new java.util.TreeMap<>();
        for (int s = 0; s < 2; s++) {
            sendPorts.put(s, senders.get(s).port());
        }
        for (ChildJvm r : receivers) {
            r.send(peers("SENDERS", sendPorts));
        }
        for (ChildJvm s : senders) {
            s.send(peers("RECEIVERS", recvPorts));
        }
        for (ChildJvm c : children) {
            c.expect("DONE", 150);
            assertEquals(0, c.waitFor(30), c.output());
        }
    }

    @ParameterizedTest
    @EnumSource(value = TransportKind.class, names = {"TCP", "UCX"})
    void receiverJoinsMidRun(TransportKind kind) throws Exception {
        require(kind);
        String t = kind.name().toLowerCase();
        int rounds = 12;
        int joinAt = 6;
        ChildJvm first = start("receiver-10", secret, "receiver", "10", t, "0", "" + rounds);
        ChildJvm sender = start("sender-0", secret, "sender", "0", t, "" + rounds, "" + joinAt);
        int firstPort = first.port();
        int senderPort = sender.port();
        first.send(peers("SENDERS", Map.of(0, senderPort)));
        sender.send(peers("RECEIVERS", Map.of(10, firstPort)));
        sender.expect("WAITING " + joinAt, 90);
        ChildJvm late = start("receiver-11", secret, "receiver", "11", t, "" + joinAt, "" + rounds);
        int latePort = late.port();
        late.send(peers("SENDERS", Map.of(0, senderPort)));
        sender.send(peers("ADD", Map.of(11, latePort)));
        for (ChildJvm c : children) {
            c.expect("DONE", 120);
            assertEquals(0, c.waitFor(30), c.output());
        }
    }

    @ParameterizedTest
    @EnumSource(value = TransportKind.class, names = {"TCP", "UCX"})
    void senderKilledMidRunFailsTheRoundInTimeAndOthersGoOn(TransportKind kind) throws Exception {
        peerTimeoutMillis = 3_000; // NodeConfig's default: detection time is what this test measures
        require(kind);
        String t = kind.name().toLowerCase();
        int rounds = 40;
        ChildJvm receiver = start("receiver-10", secret, "receiver", "10", t, "0", "" + rounds);
        ChildJvm survivor = start("sender-0", secret, "sender", "0", t, "" + rounds, "-1");
        ChildJvm victim = start("sender-1", secret, "sender", "1", t, "" + rounds, "-1");
        int rp = receiver.port();
        Map<Integer, Integer> sendPorts = Map.of(0, survivor.port(), 1, victim.port());
        receiver.send(peers("SENDERS", sendPorts));
        survivor.send(peers("RECEIVERS", Map.of(10, rp)));
        victim.send(peers("RECEIVERS", Map.of(10, rp)));
        victim.expect("STEP 5", 90);
        long killedAt = System.currentTimeMillis();
        victim.kill();
        String lost = receiver.expect("LOST ", 30);
        String[] f = lost.split(" ");
        assertEquals("1", f[1], lost);
        if (lost.endsWith("reply")) {
            // Killed between its dispatch and the receiver's reply: the reply finds the link gone
            // (PEER_DEAD) or, if the link was already dropped, nobody listening (CONNECT_FAILED).
            assertTrue(f[2].equals("PEER_DEAD") || f[2].equals("CONNECT_FAILED"), lost);
        } else {
            assertEquals("PEER_DEAD", f[2], lost);
        }
        long noticed = Long.parseLong(f[3]) - killedAt;
        assertTrue(noticed < 5000, "the receiver noticed the dead sender after " + noticed + " ms: " + lost);
        survivor.expect("DONE", 150);
        receiver.expect("DONE", 60);
        assertEquals(0, survivor.waitFor(30), survivor.output());
        assertEquals(0, receiver.waitFor(30), receiver.output());
    }

    @ParameterizedTest
    @EnumSource(value = TransportKind.class, names = {"TCP", "UCX"})
    void peerWithoutTheSecretIsRefused(TransportKind kind) throws Exception {
        require(kind);
        String t = kind.name().toLowerCase();
        ChildJvm receiver = start("receiver-10", secret, "receiver", "10", t, "0", "0", "5");
        ChildJvm intruder = start("intruder-66", newSecret(), "intruder", "66", t);
        int rp = receiver.port();
        intruder.port();
        receiver.send("SENDERS 66=127.0.0.1:1");
        intruder.send(peers("RECEIVERS", Map.of(10, rp)));
        assertEquals("REFUSED AUTH_FAILED", intruder.expect("REFUSED", 60));
        assertEquals(0, intruder.waitFor(30), intruder.output());
        // the receiver logged the refusal and never got the message
        String lost = receiver.expect("LOST ", 60);
        assertTrue(lost.startsWith("LOST 66 TIMEOUT"), lost);
        assertTrue(receiver.output().contains("refused connection from"), receiver.output());
    }

    private static String newSecret() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}
