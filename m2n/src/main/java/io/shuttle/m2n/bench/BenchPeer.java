package io.shuttle.m2n.bench;

import io.shuttle.m2n.M2nNode;
import io.shuttle.m2n.NodeConfig;
import io.shuttle.m2n.Outgoing;
import io.shuttle.m2n.ReceivedRound;
import io.shuttle.m2n.TransportKind;
import io.shuttle.m2n.transport.RegisteredBuffer;
import io.shuttle.m2n.wire.PayloadType;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One process of {@code bench m2n}: a sender (dispatch to every receiver, then wait for every
 * reply) or a receiver (collect from every sender, then combine back to each). Talks to
 * {@link M2nBench} through stdout lines (READY, TIMES, DONE) and one stdin line (peers).
 * Senders record {@code System.nanoTime()} at the start and end of each round; on Linux it is
 * CLOCK_MONOTONIC, the same clock in every process, so the coordinator can align rounds.
 */
public final class BenchPeer {
    static final long DEPLOYMENT = 0xBE7C4L;
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    private BenchPeer() {
    }

    /** args: role id transport sizesCsv rounds warmupCsv (one per size) spinMicros activeSpinMicros */
    public static void main(String[] args) throws Exception {
        String role = args[0];
        int me = Integer.parseInt(args[1]);
        TransportKind kind = TransportKind.parse(args[2]);
        long[] sizes = java.util.Arrays.stream(args[3].split(",")).mapToLong(Long::parseLong).toArray();
        int rounds = Integer.parseInt(args[4]);
        int[] warmups = java.util.Arrays.stream(args[5].split(",")).mapToInt(Integer::parseInt).toArray();
        long spinMicros = Long.parseLong(args[6]);
        long activeSpinMicros = Long.parseLong(args[7]);
        byte[] secret = HexFormat.of().parseHex(System.getenv("M2N_SECRET"));
        NodeConfig config = NodeConfig.of(DEPLOYMENT, me, secret).withTransport(kind)
                .withSpin(Duration.ofNanos(spinMicros * 1000)).withActiveSpin(Duration.ofNanos(activeSpinMicros * 1000));
        String devices = System.getenv("UCX_NET_DEVICES");
        if (devices != null) {
            config = config.withUcxNetDevices(devices);
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        int code = 0;
        try (M2nNode node = M2nNode.start(config)) {
            System.out.println("READY " + node.address().getPort() + " " + node.transportName());
            System.out.flush();
            Map<Integer, InetSocketAddress> peers = parsePeers(in.readLine());
            for (int s = 0; s < sizes.length; s++) {
                if (role.equals("sender")) {
                    long[] times = sender(node, peers, sizes[s], s, rounds, warmups[s]);
                    StringBuilder sb = new StringBuilder("TIMES ").append(sizes[s]);
                    for (int i = 0; i < times.length; i += 2) {
                        sb.append(' ').append(times[i]).append(',').append(times[i + 1]);
                    }
                    System.out.println(sb);
                } else {
                    receiver(node, peers, sizes[s], s, rounds + warmups[s]);
                }
                System.out.flush();
            }
            System.out.println("DONE");
        } catch (Throwable t) {
            System.out.println("ERROR " + t);
            code = 1;
        }
        System.out.flush();
        System.exit(code);
    }

    /**
     * Rounds are chained in callbacks on the progress thread: the next round is posted from the
     * completion of the previous one, so no thread hand-off sits on the measured path.
     */
    private static long[] sender(M2nNode node, Map<Integer, InetSocketAddress> receivers, long size, int sizeIndex,
            int rounds, int warmup) throws Exception {
        long[] times = new long[2 * rounds];
        int rows = size % 8192 == 0 ? (int) (size / 8192) : 1;
        try (RegisteredBuffer data = node.allocate(size)) {
            data.segment().fill((byte) 1);
            List<Outgoing> out = new ArrayList<>();
            for (InetSocketAddress r : receivers.values()) {
                out.add(Outgoing.rows(r, data.segment(), rows, PayloadType.U8));
            }
            out = List.copyOf(out); // immutable: the node's defensive copy is then free
            Set<Integer> from = Set.copyOf(receivers.keySet());
            List<Outgoing> messages = out;
            CompletableFuture<Void> done = new CompletableFuture<>();
            new Object() {
                void round(int i) {
                    long step = sizeIndex * 1_000_000L + i;
                    long t0 = System.nanoTime();
                    // Dispatch first: both run on the progress thread in this order, and the
                    // replies cannot be taken from the transport in between (an early one would
                    // be kept for the collect anyway), so the send goes out one step sooner.
                    var sent = node.dispatch(step, 0, 0, messages);
                    var replies = node.collectCombine(step, 0, 0, from, TIMEOUT);
                    // A round ends when every reply came and our own sends completed (they
                    // normally complete first, as the replies answer them).
                    replies.whenComplete((r, e) -> {
                        if (e == null && sent.isDone() && !sent.isCompletedExceptionally()) {
                            roundDone(i, t0, r);
                        } else if (e == null) {
                            sent.whenComplete((v, se) -> {
                                if (se != null) {
                                    r.close();
                                    done.completeExceptionally(se);
                                } else {
                                    roundDone(i, t0, r);
                                }
                            });
                        } else {
                            done.completeExceptionally(e);
                        }
                    });
                }

                void roundDone(int i, long t0, ReceivedRound r) {
                    r.close();
                    long t1 = System.nanoTime();
                    if (i >= warmup) {
                        times[2 * (i - warmup)] = t0;
                        times[2 * (i - warmup) + 1] = t1;
                    }
                    if (i + 1 < warmup + rounds) {
                        round(i + 1);
                    } else {
                        done.complete(null);
                    }
                }
            }.round(0);
            done.get(TIMEOUT.toSeconds() * 10, TimeUnit.SECONDS);
        }
        return times;
    }

    private static void receiver(M2nNode node, Map<Integer, InetSocketAddress> senders, long size, int sizeIndex,
            int total) throws Exception {
        int rows = size % 8192 == 0 ? (int) (size / 8192) : 1;
        try (RegisteredBuffer data = node.allocate(size)) {
            data.segment().fill((byte) 2);
            List<Outgoing> list = new ArrayList<>();
            for (InetSocketAddress s : senders.values()) {
                list.add(Outgoing.rows(s, data.segment(), rows, PayloadType.U8));
            }
            List<Outgoing> out = List.copyOf(list);
            Set<Integer> from = Set.copyOf(senders.keySet());
            CompletableFuture<Void> done = new CompletableFuture<>();
            List<CompletableFuture<Void>> replies = new ArrayList<>();
            new Object() {
                void round(int i) {
                    long step = sizeIndex * 1_000_000L + i;
                    node.collectDispatch(step, 0, 0, from, TIMEOUT).whenComplete((r, e) -> {
                        if (e != null) {
                            done.completeExceptionally(e);
                            return;
                        }
                        r.close();
                        replies.add(node.combine(step, 0, 0, out));
                        if (i + 1 < total) {
                            round(i + 1);
                        } else {
                            done.complete(null);
                        }
                    });
                }
            }.round(0);
            done.get(TIMEOUT.toSeconds() * 10, TimeUnit.SECONDS);
            CompletableFuture.allOf(replies.toArray(CompletableFuture[]::new)).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        }
    }

    private static Map<Integer, InetSocketAddress> parsePeers(String line) {
        if (line == null || !line.startsWith("PEERS ")) {
            throw new IllegalArgumentException("expected 'PEERS id=host:port,...', got " + line);
        }
        Map<Integer, InetSocketAddress> peers = new TreeMap<>();
        for (String p : line.substring(6).trim().split(",")) {
            String[] kv = p.split("=");
            String[] hp = kv[1].split(":");
            peers.put(Integer.parseInt(kv[0]), new InetSocketAddress(hp[0], Integer.parseInt(hp[1])));
        }
        return peers;
    }
}
