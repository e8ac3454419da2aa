package io.shuttle.m2n.bench;

import io.shuttle.m2n.TransportKind;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.concurrent.Callable;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench m2n}: starts M sender and N receiver processes on loopback and runs the real
 * pattern. Each round every sender dispatches one message of the given size to every receiver,
 * and every receiver combines one message of the same size back to every sender; the round ends
 * when every sender has all its replies. Prints median and P99 round time and GB/s (all bytes
 * moved ÷ median round time) per size; with M = N = 1, also the {@code ucx_perftest tag_lat}
 * round trip for the same size and transport, measured in the same run, and the ratio.
 */
@Command(name = "m2n", mixinStandardHelpOptions = true,
        description = "Benchmark m2n dispatch/combine rounds between M sender and N receiver processes on loopback.")
public final class M2nBench implements Callable<Integer> {
    @Option(names = "--transport", defaultValue = "ucx", description = "ucx or tcp (default ${DEFAULT-VALUE})")
    String transport;

    @Option(names = "--senders", defaultValue = "1", description = "M sender processes")
    int senders;

    @Option(names = "--receivers", defaultValue = "1", description = "N receiver processes")
    int receivers;

    @Option(names = "--sizes", defaultValue = "4KiB,64KiB,256KiB,1MiB,4MiB", description = "message sizes, comma-separated")
    String sizes;

    @Option(names = "--rounds", defaultValue = "1000", description = "measured rounds per size")
    int rounds;

    @Option(names = "--warmup", defaultValue = "-1",
            description = "unmeasured rounds per size (default: as many as --rounds, at least 1000; the first size "
                    + "at least 200000 rounds or 4 GiB moved, so the JIT has compiled the whole path)")
    int warmup;

    @Option(names = "--spin-us", defaultValue = "50",
            description = "progress thread busy-poll time before blocking when idle, µs (default ${DEFAULT-VALUE})")
    long spinMicros;

    @Option(names = "--active-spin-us", defaultValue = "2000",
            description = "busy-poll time before blocking while a reply is expected, µs (default ${DEFAULT-VALUE})")
    long activeSpinMicros;

    @Option(names = "--json", description = "print one JSON object per size instead of a table")
    boolean json;

    @Option(names = "--no-perftest", description = "skip the ucx_perftest comparison")
    boolean noPerftest;

    private final PrintStream out;

    public M2nBench(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new M2nBench(System.out)).execute(args));
    }

    record Result(long size, double medianUs, double p99Us, double gbps, OptionalDouble perftestRoundTripUs) {
    }

    @Override
    public Integer call() throws Exception {
        TransportKind kind;
        long[] byteSizes;
        try {
            kind = TransportKind.parse(transport);
            byteSizes = Sizes.parse(sizes);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage());
        }
        if (byteSizes.length == 0) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--sizes lists no size");
        }
        if (kind == TransportKind.AUTO) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--transport must be ucx or tcp");
        }
        if (senders < 1 || receivers < 1 || rounds < 1) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--senders, --receivers and --rounds must be >= 1");
        }
        int[] warm = warmups(byteSizes);
        String warmCsv = String.join(",", Arrays.stream(warm).mapToObj(Integer::toString).toList());
        String secret = newSecret();
        List<Proc> procs = new ArrayList<>();
        try {
            String csv = String.join(",", Arrays.stream(byteSizes).mapToObj(Long::toString).toList());
            for (int s = 0; s < senders; s++) {
                procs.add(new Proc("sender-" + s, secret, "sender", "" + s, kind.name(), csv, "" + rounds, warmCsv,
                        "" + spinMicros, "" + activeSpinMicros));
            }
            for (int r = 0; r < receivers; r++) {
                procs.add(new Proc("receiver-" + r, secret, "receiver", "" + (1000 + r), kind.name(), csv, "" + rounds,
                        warmCsv, "" + spinMicros, "" + activeSpinMicros));
            }
            List<Integer> ports = new ArrayList<>();
            String transportName = null;
            for (Proc p : procs) {
                String[] ready = p.expect("READY", 60).split(" ", 3);
                ports.add(Integer.parseInt(ready[1]));
                transportName = ready[2];
            }
            if (!json) {
                out.printf("m2n bench: transport %s, %d sender(s) x %d receiver(s), %d rounds per size (+%s warm-up)%n",
                        transportName, senders, receivers, rounds, warmCsv);
            }
            StringBuilder toReceivers = new StringBuilder("PEERS ");
            StringBuilder toSenders = new StringBuilder("PEERS ");
            for (int s = 0; s < senders; s++) {
                toReceivers.append(s).append("=127.0.0.1:").append(ports.get(s)).append(',');
            }
            for (int r = 0; r < receivers; r++) {
                toSenders.append(1000 + r).append("=127.0.0.1:").append(ports.get(senders + r)).append(',');
            }
            for (int i = 0; i < procs.size(); i++) {
                procs.get(i).send((i < senders ? toSenders : toReceivers).toString().replaceAll(",$", ""));
            }
            List<Result> results = new ArrayList<>();
            for (long size : byteSizes) {
                long[][] times = new long[senders][];
                for (int s = 0; s < senders; s++) {
                    times[s] = parseTimes(procs.get(s).expect("TIMES " + size + " ", 600), rounds);
                }
                results.add(summarise(size, times));
            }
            for (Proc p : procs) {
                p.expect("DONE", 60);
            }
            closeAll(procs);
            procs.clear();
            if (!noPerftest && senders == 1 && receivers == 1) {
                results = withPerftest(results, kind);
            }
            print(results, kind);
            return 0;
        } finally {
            closeAll(procs);
        }
    }

    /**
     * Warm-up rounds per size. The sizes run one after another in the same processes, so the
     * first size's warm-up is what lets C2 compile the round path (a few thousand rounds leave
     * it half interpreted; 4 KiB rounds measured 5.7-7.5 µs after 20 000 warm-up rounds and
     * 4.5-4.6 µs after 200 000, which take about a second); later sizes only need their buffers
     * and UCX protocols warmed.
     */
    private int[] warmups(long[] byteSizes) {
        int[] w = new int[byteSizes.length];
        for (int i = 0; i < w.length; i++) {
            if (warmup >= 0) {
                w[i] = warmup;
            } else {
                w[i] = Math.max(1000, rounds);
                if (i == 0) {
                    w[i] = (int) Math.max(w[i], Math.min(200_000, (4L << 30) / Math.max(1, byteSizes[i])));
                }
            }
        }
        return w;
    }

    private static void closeAll(List<Proc> procs) {
        for (Proc p : procs) {
            p.close();
        }
    }

    private List<Result> withPerftest(List<Result> results, TransportKind kind) {
        Map<String, String> env = new HashMap<>();
        env.put("UCX_NET_DEVICES", System.getenv().getOrDefault("UCX_NET_DEVICES", "lo"));
        env.put("UCX_LOG_LEVEL", "error");
        if (kind == TransportKind.TCP) {
            env.put("UCX_TLS", "tcp");
        }
        List<Result> withRef = new ArrayList<>();
        for (Result r : results) {
            StringBuilder why = new StringBuilder();
            OptionalDouble oneWay = Perftest.medianOneWayMicros(r.size(), Math.max(1000, rounds), env, why);
            if (oneWay.isEmpty()) {
                System.err.println("ucx_perftest comparison skipped for " + Sizes.label(r.size()) + ": " + why);
            }
            withRef.add(new Result(r.size(), r.medianUs(), r.p99Us(), r.gbps(),
                    oneWay.isPresent() ? OptionalDouble.of(2 * oneWay.getAsDouble()) : OptionalDouble.empty()));
        }
        return withRef;
    }

    private Result summarise(long size, long[][] times) {
        double[] rounds = new double[times[0].length / 2];
        for (int i = 0; i < rounds.length; i++) {
            long start = Long.MAX_VALUE;
            long end = Long.MIN_VALUE;
            for (long[] t : times) {
                start = Math.min(start, t[2 * i]);
                end = Math.max(end, t[2 * i + 1]);
            }
            rounds[i] = (end - start) / 1000.0;
        }
        Arrays.sort(rounds);
        double median = percentile(rounds, 50);
        double p99 = percentile(rounds, 99);
        double bytes = 2.0 * senders * receivers * size;
        return new Result(size, median, p99, bytes / (median * 1e-6) / 1e9, OptionalDouble.empty());
    }

    private static double percentile(double[] sorted, double p) {
        int idx = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, idx))];
    }

    private void print(List<Result> results, TransportKind kind) {
        String t = kind.name().toLowerCase(Locale.ROOT);
        if (json) {
            for (Result r : results) {
                StringBuilder sb = new StringBuilder();
                sb.append(String.format(Locale.ROOT,
                        "{\"transport\":\"%s\",\"senders\":%d,\"receivers\":%d,\"size_bytes\":%d,\"rounds\":%d,"
                                + "\"median_round_us\":%.2f,\"p99_round_us\":%.2f,\"gbps\":%.4f",
                        t, senders, receivers, r.size(), rounds, r.medianUs(), r.p99Us(), r.gbps()));
                if (r.perftestRoundTripUs().isPresent()) {
                    double ref = r.perftestRoundTripUs().getAsDouble();
                    sb.append(String.format(Locale.ROOT, ",\"perftest_round_trip_us\":%.2f,\"ratio_to_perftest\":%.3f",
                            ref, r.medianUs() / ref));
                }
                out.println(sb.append('}'));
            }
            return;
        }
        boolean ref = results.stream().anyMatch(r -> r.perftestRoundTripUs().isPresent());
        out.printf("%-8s %14s %14s %10s%s%n", "size", "median round", "p99 round", "GB/s",
                ref ? String.format("%20s %8s", "perftest round trip", "ratio") : "");
        for (Result r : results) {
            String extra = "";
            if (r.perftestRoundTripUs().isPresent()) {
                double rt = r.perftestRoundTripUs().getAsDouble();
                extra = String.format(Locale.ROOT, "%17.1f us %8.2f", rt, r.medianUs() / rt);
            }
            out.printf(Locale.ROOT, "%-8s %11.1f us %11.1f us %10.3f%s%n", Sizes.label(r.size()), r.medianUs(), r.p99Us(),
                    r.gbps(), extra);
        }
    }

    private static long[] parseTimes(String line, int rounds) {
        String[] f = line.trim().split(" ");
        long[] t = new long[2 * rounds];
        for (int i = 0; i < rounds; i++) {
            String[] p = f[2 + i].split(",");
            t[2 * i] = Long.parseLong(p[0]);
            t[2 * i + 1] = Long.parseLong(p[1]);
        }
        return t;
    }

    private static String newSecret() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /** One bench process; killed on close. */
    private static final class Proc implements AutoCloseable {
        private final String name;
        private final Process process;
        private final Writer stdin;
        private final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();

        Proc(String name, String secret, String... args) throws IOException {
            this.name = name;
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    // The serial collector: each peer is one spinning progress thread with little
                    // live data; G1's concurrent threads would compete with the other peers for
                    // the cores (4 KiB rounds 5.4 against 5.7 µs, medians of three runs each).
                    "--enable-native-access=ALL-UNNAMED", "-Xmx2g", "-XX:+UseSerialGC",
                    "-cp", System.getProperty("java.class.path"), BenchPeer.class.getName()));
            cmd.addAll(List.of(args));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
            pb.environment().put("M2N_SECRET", secret);
            pb.environment().putIfAbsent("UCX_LOG_LEVEL", "error");
            pb.environment().putIfAbsent("UCX_NET_DEVICES", "lo");
            this.process = pb.start();
            this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) {
                        if (l.startsWith("READY") || l.startsWith("TIMES") || l.startsWith("DONE") || l.startsWith("ERROR")) {
                            lines.add(l);
                        } else {
                            System.err.println(name + ": " + l); // UCX and JDK diagnostics
                        }
                    }
                } catch (IOException ignored) {
                    // process gone
                }
                lines.add("EOF");
            }, "bench-" + name);
            reader.setDaemon(true);
            reader.start();
        }

        String expect(String prefix, long seconds) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (true) {
                long left = deadline - System.nanoTime();
                String l = left > 0 ? lines.poll(left, TimeUnit.NANOSECONDS) : null;
                if (l == null || l.equals("EOF") || l.startsWith("ERROR")) {
                    throw new IllegalStateException(name + ": expected '" + prefix + "' but got "
                            + (l == null ? "nothing in " + seconds + " s" : l));
                }
                if (l.startsWith(prefix)) {
                    return l;
                }
            }
        }

        void send(String line) throws IOException {
            stdin.write(line + "\n");
            stdin.flush();
        }

        @Override
        public void close() {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
