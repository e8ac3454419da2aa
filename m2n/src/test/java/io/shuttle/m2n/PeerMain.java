package io.shuttle.m2n;

import io.shuttle.m2n.transport.RegisteredBuffer;
import io.shuttle.m2n.wire.PayloadType;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * A child process for {@link M2nMultiProcessTest}: a sender, a receiver or an intruder, talking
 * to the test through stdout lines (READY, STEP, WAITING, LOST, DONE, ERROR) and stdin lines
 * (peer addresses). Payload bytes are a function of (from, to, step), so both ends can check
 * every byte.
 */
public final class PeerMain {
    static final long DEPLOYMENT = 7;
    static final int BIG_STEP = 1000;
    static final long BIG = 64L << 20;
    private static final long[] SIZES = {0, 8, 4096, 65536 + 24, (1 << 20) + 8, 256 << 10};

    private PeerMain() {
    }

    static long sizeFor(long step) {
        return step == BIG_STEP ? BIG : SIZES[(int) (step % SIZES.length)];
    }

    static int rowsFor(long size) {
        return size == 0 ? 0 : size % 8192 == 0 ? (int) (size / 8192) : 1;
    }

    public static void main(String[] args) throws Exception {
        String role = args[0];
        int me = Integer.parseInt(args[1]);
        TransportKind kind = TransportKind.parse(args[2]);
        byte[] secret = HexFormat.of().parseHex(System.getenv("M2N_SECRET"));
        String peerTimeout = System.getenv().getOrDefault("M2N_PEER_TIMEOUT_MS", "3000");
        NodeConfig config = NodeConfig.of(DEPLOYMENT, me, secret).withTransport(kind).withUcxNetDevices("lo")
                .withMaxPoolBytes(2L << 30).withPeerTimeout(Duration.ofMillis(Long.parseLong(peerTimeout)));
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        int code;
        try (M2nNode node = M2nNode.start(config)) {
            say("READY " + node.address().getPort());
            code = switch (role) {
                case "sender" -> sender(node, in, Integer.parseInt(args[3]), Integer.parseInt(args[4]));
                case "receiver" -> receiver(node, in, Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                        Duration.ofSeconds(args.length > 5 ? Integer.parseInt(args[5]) : 60));
                case "intruder" -> intruder(node, in);
                default -> throw new IllegalArgumentException("unknown role " + role);
            };
        } catch (Throwable t) {
            say("ERROR " + t);
            code = 1;
        }
        System.out.flush();
        System.exit(code);
    }

    /** Rounds 0..rounds-1 then the 64 MiB round; pauses at {@code pauseAt} for an ADD line. */
    private static int sender(M2nNode node, BufferedReader in, int rounds, int pauseAt) throws Exception {
        Map<Integer, InetSocketAddress> receivers = parsePeers(in.readLine(), "RECEIVERS");
        List<Long> steps = new ArrayList<>();
        for (long s = 0; s < rounds; s++) {
            steps.add(s);
        }
        steps.add((long) BIG_STEP);
        for (long step : steps) {
            if (step == pauseAt) {
                say("WAITING " + step);
                receivers.putAll(parsePeers(in.readLine(), "ADD"));
            }
            long size = sizeFor(step);
            List<RegisteredBuffer> held = new ArrayList<>();
            List<Outgoing> out = new ArrayList<>();
            for (var r : receivers.entrySet()) {
                RegisteredBuffer b = node.allocate(size);
                held.add(b);
                fill(b.segment(), node.nodeId(), r.getKey(), step);
                out.add(Outgoing.rows(r.getValue(), b.segment(), rowsFor(size), PayloadType.U8));
            }
            var replies = node.collectCombine(step, 0, 0, receivers.keySet(), Duration.ofSeconds(60));
            node.dispatch(step, 0, 0, out).get(60, TimeUnit.SECONDS);
            held.forEach(RegisteredBuffer::close);
            try (ReceivedRound round = replies.get(90, TimeUnit.SECONDS)) {
                for (var m : round.messages().entrySet()) {
                    check(m.getValue().payload(), m.getKey(), node.nodeId(), step);
                }
            }
            say("STEP " + step);
        }
        say("DONE");
        return 0;
    }

    /** Collects steps from..to-1 then the 64 MiB round, replying to every sender still alive. */
    private static int receiver(M2nNode node, BufferedReader in, int from, int to, Duration collectTimeout)
            throws Exception {
        Map<Integer, InetSocketAddress> senders = parsePeers(in.readLine(), "SENDERS");
        List<Long> steps = new ArrayList<>();
        for (long s = from; s < to; s++) {
            steps.add(s);
        }
        steps.add((long) BIG_STEP);
        for (long step : steps) {
            long size = sizeFor(step);
            long t0 = System.currentTimeMillis();
            try (ReceivedRound round = node.collectDispatch(step, 0, 0, senders.keySet(), collectTimeout)
                    .get(90, TimeUnit.SECONDS)) {
                for (var m : round.messages().entrySet()) {
                    if (m.getValue().header().rowCount() != rowsFor(size)) {
                        throw new IllegalStateException("step " + step + ": " + m.getValue().header().rowCount() + " rows");
                    }
                    check(m.getValue().payload(), m.getKey(), node.nodeId(), step);
                }
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof M2nException m2n)) {
                    throw e;
                }
                // PEER_DEAD names the sender that died; others may merely not have sent yet (they
                // still get a reply below). Any other failure drops every missing sender.
                Set<Integer> lost = m2n.status() == M2nStatus.PEER_DEAD && m2n.peer() != null
                        && m2n.peer().startsWith("node ")
                        ? Set.of(Integer.parseInt(m2n.peer().substring(5))) : m2n.missingSenders();
                say("LOST " + lost.iterator().next() + " " + m2n.status() + " "
                        + System.currentTimeMillis() + " waited " + (System.currentTimeMillis() - t0));
                senders.keySet().removeAll(lost);
            }
            try (Arena arena = Arena.ofConfined()) {
                // One combine per sender, so a reply that fails names the sender it was for.
                Map<Integer, java.util.concurrent.CompletableFuture<Void>> replies = new TreeMap<>();
                for (var s : senders.entrySet()) {
                    MemorySegment b = arena.allocate(Math.max(1, size)).asSlice(0, size);
                    fill(b, node.nodeId(), s.getKey(), step);
                    replies.put(s.getKey(), node.combine(step, 0, 0,
                            List.of(Outgoing.rows(s.getValue(), b, rowsFor(size), PayloadType.U8))));
                }
                for (var r : replies.entrySet()) {
                    try {
                        r.getValue().get(60, TimeUnit.SECONDS);
                    } catch (ExecutionException e) {
                        if (!(e.getCause() instanceof M2nException m2n)) {
                            throw e;
                        }
                        // The sender died between its dispatch and our reply.
                        say("LOST " + r.getKey() + " " + m2n.status() + " " + System.currentTimeMillis() + " reply");
                        senders.remove(r.getKey());
                    }
                }
            }
            say("STEP " + step);
        }
        say("DONE");
        return 0;
    }

    private static int intruder(M2nNode node, BufferedReader in) throws Exception {
        Map<Integer, InetSocketAddress> receivers = parsePeers(in.readLine(), "RECEIVERS");
        RegisteredBuffer b = node.allocate(64);
        try {
            node.dispatch(0, 0, 0, List.of(Outgoing.rows(receivers.values().iterator().next(), b.segment(), 1,
                    PayloadType.U8))).get(30, TimeUnit.SECONDS);
            say("ACCEPTED");
            return 1;
        } catch (ExecutionException e) {
            M2nException m = (M2nException) e.getCause();
            say("REFUSED " + m.status());
            return m.status() == M2nStatus.AUTH_FAILED ? 0 : 1;
        }
    }

    static void fill(MemorySegment s, int from, int to, long step) {
        TransportContract.fill(s, seed(from, to, step));
    }

    private static long seed(int from, int to, long step) {
        return (from * 1_000_003L + to) * 1_000_033L + step;
    }

    private static void check(MemorySegment got, int from, int to, long step) {
        long size = sizeFor(step);
        if (got.byteSize() != size) {
            throw new IllegalStateException("step " + step + " from " + from + ": " + got.byteSize() + " bytes, want " + size);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment want = arena.allocate(Math.max(1, size)).asSlice(0, size);
            fill(want, from, to, step);
            long at = want.mismatch(got);
            if (at >= 0) {
                throw new IllegalStateException("step " + step + " from " + from + " to " + to + ": byte " + at + " differs");
            }
        }
    }

    /** "TAG 3=127.0.0.1:4000,4=127.0.0.1:4001" → ids to addresses. */
    private static Map<Integer, InetSocketAddress> parsePeers(String line, String tag) {
        if (line == null || !line.startsWith(tag + " ")) {
            throw new IllegalArgumentException("expected '" + tag + " id=host:port,...', got " + line);
        }
        Map<Integer, InetSocketAddress> peers = new TreeMap<>();
        for (String p : line.substring(tag.length() + 1).trim().split(",")) {
            String[] kv = p.split("=");
            String[] hp = kv[1].split(":");
            peers.put(Integer.parseInt(kv[0]), new InetSocketAddress(hp[0], Integer.parseInt(hp[1])));
        }
        return peers;
    }

    private static void say(String line) {
        synchronized (System.out) {
            System.out.println(line);
            System.out.flush();
        }
    }
}
