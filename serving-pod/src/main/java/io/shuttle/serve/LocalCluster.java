package io.shuttle.serve;

import io.shuttle.plan.PlanReader;
import io.shuttle.plan.ServingPlan;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A disaggregated deployment on this machine: A attention and E expert processes on loopback,
 * with a generated plan and secret in a run folder. Every child watches this process and exits
 * with it; {@link #close()} stops them all (SIGTERM, then SIGKILL after a grace period).
 */
public final class LocalCluster implements AutoCloseable {
    private static final Pattern READY = Pattern.compile("shuttle-ready role=(\\w+) ordinal=(\\d+) http=(\\d+)");

    /** Shape of the cluster. */
    public record Spec(Path model, int attention, int experts, int microBatches, String transport,
                       int threadsPerPod, boolean replicateExperts, Path trace, int numExperts, boolean pinCores,
                       int apiPort, int maxRunning, int maxWaiting, int maxBatchTokens, Duration warmup, int kvBlocks) {

        /** Token rows per step when not given: enough for 64 decoding sequences and a prefill chunk. */
        public static final int DEFAULT_MAX_BATCH_TOKENS = 256;

        /** Tokens per KV cache block in the attention pods. */
        public static final int KV_BLOCK_TOKENS = 16;

        /** KV cache blocks of each attention pod when not given: 32,768 tokens (512 MiB for the bench models). */
        public static final int DEFAULT_KV_BLOCKS = 2048;

        public Spec(Path model, int attention, int experts, int microBatches, String transport, int threadsPerPod,
                    boolean replicateExperts, Path trace, int numExperts, boolean pinCores, int apiPort, int maxRunning,
                    int maxWaiting, int maxBatchTokens, Duration warmup) {
            this(model, attention, experts, microBatches, transport, threadsPerPod, replicateExperts, trace, numExperts,
                    pinCores, apiPort, maxRunning, maxWaiting, maxBatchTokens, warmup, DEFAULT_KV_BLOCKS);
        }

        /** With the pods' default warm-up ({@link PodWarmup}): {@link #start} returns once it has ended. */
        public Spec(Path model, int attention, int experts, int microBatches, String transport, int threadsPerPod,
                    boolean replicateExperts, Path trace, int numExperts, boolean pinCores, int apiPort, int maxRunning,
                    int maxWaiting, int maxBatchTokens) {
            this(model, attention, experts, microBatches, transport, threadsPerPod, replicateExperts, trace, numExperts,
                    pinCores, apiPort, maxRunning, maxWaiting, maxBatchTokens, PodSettings.DEFAULT_WARMUP);
        }

        /** The same cluster with another longest warm-up of its attention pods (zero: none). */
        public Spec withWarmup(Duration limit) {
            return new Spec(model, attention, experts, microBatches, transport, threadsPerPod, replicateExperts, trace,
                    numExperts, pinCores, apiPort, maxRunning, maxWaiting, maxBatchTokens, limit, kvBlocks);
        }

        /** The same cluster with {@code blocks} KV cache blocks in each attention pod. */
        public Spec withKvBlocks(int blocks) {
            return new Spec(model, attention, experts, microBatches, transport, threadsPerPod, replicateExperts, trace,
                    numExperts, pinCores, apiPort, maxRunning, maxWaiting, maxBatchTokens, warmup, blocks);
        }

        public Spec(Path model, int attention, int experts, int microBatches, String transport, int threadsPerPod,
                    boolean replicateExperts, Path trace, int numExperts, boolean pinCores, int apiPort, int maxRunning,
                    int maxWaiting) {
            this(model, attention, experts, microBatches, transport, threadsPerPod, replicateExperts, trace, numExperts,
                    pinCores, apiPort, maxRunning, maxWaiting, Math.max(DEFAULT_MAX_BATCH_TOKENS, maxRunning));
        }

        /** Default admission limits: 64 running and 1,024 waiting requests per attention pod. */
        public Spec(Path model, int attention, int experts, int microBatches, String transport, int threadsPerPod,
                    boolean replicateExperts, Path trace, int numExperts, boolean pinCores, int apiPort) {
            this(model, attention, experts, microBatches, transport, threadsPerPod, replicateExperts, trace, numExperts,
                    pinCores, apiPort, 64, 1024);
        }

        public Spec(Path model, int attention, int experts, int microBatches, String transport, int threadsPerPod,
                    boolean replicateExperts, Path trace, int numExperts) {
            this(model, attention, experts, microBatches, transport, threadsPerPod, replicateExperts, trace, numExperts,
                    false, 0);
        }

        public Spec(Path model, int attention, int experts, int microBatches, String transport, int threadsPerPod,
                    boolean replicateExperts, Path trace, int numExperts, boolean pinCores) {
            this(model, attention, experts, microBatches, transport, threadsPerPod, replicateExperts, trace, numExperts,
                    pinCores, 0);
        }

        public Spec {
            if (warmup == null || warmup.isNegative()) {
                throw new IllegalArgumentException("--warmup-seconds must be ≥ 0, got " + (warmup == null ? "nothing" : warmup.toSeconds()));
            }
            if (apiPort < 0 || apiPort + attention > 65_536) {
                throw new IllegalArgumentException("the API port must be in 1..65535 (0: any free port), got " + apiPort);
            }
            if (maxBatchTokens < maxRunning) {
                throw new IllegalArgumentException("the step's token budget (" + maxBatchTokens
                        + ") must hold one decode token of each of the " + maxRunning + " running requests");
            }
            if (kvBlocks < 1) {
                throw new IllegalArgumentException("the KV cache needs at least one block, got " + kvBlocks);
            }
            if (maxRunning < 1 || maxWaiting < 1) {
                throw new IllegalArgumentException("--max-running and --max-waiting must be at least 1, got "
                        + maxRunning + " and " + maxWaiting);
            }
            if (attention < 1 || experts < 1) {
                throw new IllegalArgumentException("need at least one attention and one expert process");
            }
            if (microBatches < 1 || microBatches > 16) {
                throw new IllegalArgumentException("--micro-batches must be in 1..16, got " + microBatches);
            }
            if (experts > numExperts) {
                throw new IllegalArgumentException(experts + " expert processes for a model with only " + numExperts
                        + " experts: some would hold none");
            }
        }
    }

    /** One child process. */
    public record Pod(String role, int ordinal, Process process, Path log, int httpPort) {
        public String url() {
            return "http://127.0.0.1:" + httpPort;
        }
    }

    private final Path runDir;
    private final List<Pod> attentionPods = new ArrayList<>();
    private final List<Pod> expertPods = new ArrayList<>();
    private final Spec spec;
    private volatile ServingPlan plan;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private LocalCluster(Spec spec, Path runDir, ServingPlan plan) {
        this.spec = spec;
        this.runDir = runDir;
        this.plan = plan;
    }

    /** Starts every process and waits (bounded) until all are ready; on failure stops what started. */
    public static LocalCluster start(Spec spec, Duration readyTimeout) throws IOException {
        checkPinning(spec.pinCores(), TASKSET);
        Path runDir = Files.createTempDirectory("shuttle-local-");
        ServingPlan plan = plan(spec);
        Files.writeString(runDir.resolve("plan.json"), PlanReader.toJson(plan));
        byte[] secret = new byte[24];
        new SecureRandom().nextBytes(secret);
        Path secretFile = runDir.resolve("m2n-secret");
        // Readable by this user only; deleted again by close().
        Files.createFile(secretFile, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        Files.writeString(secretFile, HexFormat.of().formatHex(secret));
        LocalCluster cluster = new LocalCluster(spec, runDir, plan);
        try {
            // Experts first: attention pods reach them lazily, so order only saves a retry.
            for (int e = 0; e < spec.experts(); e++) {
                cluster.expertPods.add(cluster.launch("expert", e, secretFile, readyTimeout));
            }
            for (int a = 0; a < spec.attention(); a++) {
                cluster.attentionPods.add(cluster.launch("attention", a, secretFile, readyTimeout));
            }
            cluster.awaitReady(readyTimeout);
        } catch (IOException | RuntimeException e) {
            cluster.close();
            throw e;
        }
        return cluster;
    }

    /**
     * Waits (bounded) until every attention pod reports ready: rounds with every expert pod, and
     * its warm-up ended. A pod prints its {@code shuttle-ready} line when its HTTP side is up,
     * before it has warmed, so a cluster handed out sooner would serve its first requests cold.
     */
    private void awaitReady(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Pod pod : attentionPods) {
            awaitReady(pod, deadline, timeout);
        }
    }

    private void awaitReady(Pod pod, long deadline, Duration timeout) throws IOException {
        String last = "no answer";
        while (true) {
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(pod.url() + "/q/health/ready"))
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    break;
                }
                last = r.statusCode() + " " + r.body();
            } catch (IOException e) {
                last = e.toString();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the attention pods to be ready", e);
            }
            if (!pod.process().isAlive()) {
                throw new IllegalStateException("attention process " + pod.ordinal() + " exited with code "
                        + pod.process().exitValue() + " before it was ready; its log " + pod.log() + " ends with:\n"
                        + tail(pod.log()));
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("attention process " + pod.ordinal() + " was not ready within "
                        + timeout.toSeconds() + " s (last health answer: " + last + "); its log " + pod.log()
                        + " ends with:\n" + tail(pod.log()));
            }
            sleep(500); // each "down" answer is logged by the pod's health check
        }
    }

    private static ServingPlan plan(Spec s) throws IOException {
        List<String> attention = new ArrayList<>();
        for (int a = 0; a < s.attention(); a++) {
            attention.add("127.0.0.1:" + freePort());
        }
        List<String> experts = new ArrayList<>();
        for (int e = 0; e < s.experts(); e++) {
            experts.add("127.0.0.1:" + freePort());
        }
        List<List<Integer>> placement = new ArrayList<>();
        for (int p = 0; p < s.experts(); p++) {
            placement.add(new ArrayList<>());
        }
        for (int e = 0; e < s.numExperts(); e++) {
            placement.get(e % s.experts()).add(e);
            if (s.replicateExperts() && s.experts() > 1) {
                placement.get((e + 1) % s.experts()).add(e); // a second replica on the next pod
            }
        }
        placement.forEach(l -> l.sort(null));
        return new ServingPlan(ServingPlan.API_VERSION, ServingPlan.KIND, "local",
                new ServingPlan.Pool(s.attention(), attention, null),
                new ServingPlan.ExpertPool(s.experts(), experts, null, placement),
                new ServingPlan.Pipeline(s.microBatches(), s.maxBatchTokens(), s.maxRunning(), s.maxWaiting(), 2048, s.kvBlocks(), Spec.KV_BLOCK_TOKENS, 10_000));
    }

    private static final java.util.Random PORTS = new java.util.Random();
    private static final Path TASKSET = Path.of("/usr/bin/taskset");

    /**
     * Pinning needs taskset. Refused rather than ignored when it is missing: a pinned benchmark
     * that silently ran unpinned would report figures for a set-up it did not measure.
     */
    static void checkPinning(boolean pin, Path taskset) {
        if (pin && !Files.isExecutable(taskset)) {
            throw new IllegalStateException("pinning each process to a core needs " + taskset
                    + " (Debian package util-linux), which is not installed here; install it, or run without "
                    + "pinning (bench pipeline --no-pin; local without --pin-cores)");
        }
    }

    /**
     * A free port below Linux's ephemeral range (32768+). The ports are written into the plan
     * before the processes bind them; a port from the ephemeral range could meanwhile be taken by
     * any outgoing connection (UCX opens several), so the plan avoids that range.
     */
    private static int freePort() throws IOException {
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = 20_000 + PORTS.nextInt(12_000);
            try (ServerSocket s = new ServerSocket()) {
                s.setReuseAddress(false);
                s.bind(new java.net.InetSocketAddress("127.0.0.1", port));
                return port;
            } catch (IOException taken) {
                // try another
            }
        }
        throw new IOException("no free port found in 20000-31999 on 127.0.0.1");
    }

    private Pod launch(String role, int ordinal, Path secretFile, Duration readyTimeout) throws IOException {
        Path log = runDir.resolve(role + "-" + ordinal + ".log");
        List<String> cmd = new ArrayList<>();
        if (spec.pinCores()) {
            // One core per process, attention pods first: the two sides never share a core.
            int cores = Runtime.getRuntime().availableProcessors();
            int core = (role.equals("attention") ? ordinal : spec.attention() + ordinal) % cores;
            cmd.addAll(List.of(TASKSET.toString(), "-c", Integer.toString(core)));
        }
        cmd.addAll(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-XX:+UseParallelGC", "-Xmx2g",
                "-jar", podJar().toString(), "serve",
                "--role", role, "--ordinal", Integer.toString(ordinal),
                "--model", spec.model().toString(), "--plan", runDir.resolve("plan.json").toString(),
                "--secret-file", secretFile.toString(), "--http-port", Integer.toString(httpPort(role, ordinal)),
                "--bind-host", "127.0.0.1", "--drain-seconds", "2",
                "--transport", spec.transport(), "--threads", Integer.toString(spec.threadsPerPod()),
                "--warmup-seconds", Long.toString(spec.warmup().toSeconds()),
                "--parent-pid", Long.toString(ProcessHandle.current().pid())));
        if (spec.trace() != null) {
            cmd.add("--trace");
            cmd.add(tracePart(role, ordinal).toString());
        }
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putIfAbsent("UCX_LOG_LEVEL", "error");
        pb.environment().putIfAbsent("UCX_NET_DEVICES", "lo");
        Process process = pb.start();
        long deadline = System.nanoTime() + readyTimeout.toNanos();
        while (System.nanoTime() < deadline) {
            Matcher m = READY.matcher(Files.readString(log, StandardCharsets.UTF_8));
            if (m.find()) {
                return new Pod(role, ordinal, process, log, Integer.parseInt(m.group(3)));
            }
            if (!process.isAlive()) {
                throw new IllegalStateException(role + " process " + ordinal + " exited with code " + process.exitValue()
                        + " before it was ready; its log " + log + " ends with:\n" + tail(log));
            }
            sleep(50);
        }
        process.destroyForcibly();
        throw new IllegalStateException(role + " process " + ordinal + " was not ready within " + readyTimeout
                + "; its log " + log + " ends with:\n" + tail(log));
    }

    /** Attention pod a serves the API on apiPort + a (any free port when apiPort is 0); expert pods on any free port. */
    private int httpPort(String role, int ordinal) {
        return role.equals("attention") && spec.apiPort() > 0 ? spec.apiPort() + ordinal : 0;
    }

    /**
     * The serving pod's Quarkus application: {@code -Dshuttle.pod.jar}, else the jar this JVM runs
     * from (under {@code bin/shuttle}).
     */
    static Path podJar() {
        String configured = System.getProperty("shuttle.pod.jar");
        Path jar = configured != null ? Path.of(configured) : null;
        if (jar == null) {
            String cp = System.getProperty("java.class.path", "");
            if (cp.endsWith("quarkus-run.jar") && !cp.contains(java.io.File.pathSeparator)) {
                jar = Path.of(cp);
            }
        }
        if (jar == null || !Files.isRegularFile(jar)) {
            throw new IllegalStateException("cannot find the serving pod's quarkus-run.jar (" + jar + "): build it with "
                    + "'./mvnw -pl serving-pod -am package -DskipTests' or set -Dshuttle.pod.jar=PATH");
        }
        return jar;
    }

    private Path tracePart(String role, int ordinal) {
        return runDir.resolve("trace-" + role + "-" + ordinal + ".json");
    }

    public List<Pod> attentionPods() {
        return List.copyOf(attentionPods);
    }

    public List<Pod> expertPods() {
        return List.copyOf(expertPods);
    }

    public Path runDir() {
        return runDir;
    }

    public ServingPlan plan() {
        return plan;
    }

    /**
     * Writes a new plan for the running processes (they re-read it within seconds: attention
     * processes switch to a new expert pool at a step boundary). Written to a temporary file
     * and moved into place, as Kubernetes swaps a ConfigMap, so no process reads half a file.
     */
    public void replacePlan(ServingPlan next) throws IOException {
        Path tmp = runDir.resolve("plan.json.next");
        Files.writeString(tmp, PlanReader.toJson(next));
        Files.move(tmp, runDir.resolve("plan.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        plan = next;
    }

    /** Scales the attention pool out by one: the plan gains an address, then the new process starts (live) and warms up. */
    public Pod addAttention(Duration readyTimeout) throws IOException {
        List<String> addresses = new ArrayList<>();
        for (int a = 0; a < plan.attention().replicas(); a++) {
            addresses.add(plan.attention().address(a));
        }
        addresses.add("127.0.0.1:" + freePort());
        replacePlan(new ServingPlan(plan.apiVersion(), plan.kind(), plan.deployment(),
                new ServingPlan.Pool(addresses.size(), addresses, null), plan.experts(), plan.pipeline()));
        long deadline = System.nanoTime() + readyTimeout.toNanos();
        Pod fresh = launch("attention", addresses.size() - 1, runDir.resolve("m2n-secret"), readyTimeout);
        attentionPods.add(fresh);
        awaitReady(fresh, deadline, readyTimeout);
        return fresh;
    }

    /**
     * Scales the attention pool in by one: the last attention process gets SIGTERM (it drains its
     * admitted requests, then leaves the expert pods' rounds), then the plan loses its address.
     */
    public void removeAttention(Duration stopTimeout) throws IOException {
        Pod last = attentionPods.remove(attentionPods.size() - 1);
        last.process().destroy();
        try {
            if (!last.process().waitFor(stopTimeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
                last.process().destroyForcibly();
                throw new IllegalStateException("attention process " + last.ordinal() + " did not stop within " + stopTimeout);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<String> addresses = new ArrayList<>();
        for (int a = 0; a < attentionPods.size(); a++) {
            addresses.add(plan.attention().address(a));
        }
        replacePlan(new ServingPlan(plan.apiVersion(), plan.kind(), plan.deployment(),
                new ServingPlan.Pool(addresses.size(), addresses, null), plan.experts(), plan.pipeline()));
    }

    /**
     * Changes the expert pool: {@code placement} (one entry per expert pod) becomes the plan,
     * new expert processes start, processes beyond the new count stop, and every kept process
     * restarts on its new experts, one after the other (a rolling update).
     */
    public void changePlacement(List<List<Integer>> placement, Duration readyTimeout) throws IOException {
        List<String> addresses = new ArrayList<>();
        for (int e = 0; e < placement.size(); e++) {
            addresses.add(e < plan.experts().replicas() ? plan.experts().pool().address(e) : "127.0.0.1:" + freePort());
        }
        int before = expertPods.size();
        replacePlan(new ServingPlan(plan.apiVersion(), plan.kind(), plan.deployment(), plan.attention(),
                new ServingPlan.ExpertPool(placement.size(), addresses, null, placement), plan.pipeline()));
        for (int e = before; e < placement.size(); e++) {
            expertPods.add(launch("expert", e, runDir.resolve("m2n-secret"), readyTimeout));
        }
        while (expertPods.size() > placement.size()) {
            Pod gone = expertPods.remove(expertPods.size() - 1);
            gone.process().destroy();
        }
        for (int e = Math.min(before, placement.size()) - 1; e >= 0; e--) { // highest ordinal first, like a StatefulSet
            restartExpert(e, readyTimeout);
        }
    }

    /** The first process that has exited, if any (the launcher stops everything then). */
    public java.util.Optional<Pod> deadPod() {
        return java.util.stream.Stream.concat(attentionPods.stream(), expertPods.stream())
                .filter(p -> !p.process().isAlive()).findFirst();
    }

    /** Restarts attention pod {@code ordinal} (after it died or was killed) and waits until it is ready. */
    public Pod restartAttention(int ordinal, Duration readyTimeout) throws IOException {
        Pod old = attentionPods.get(ordinal);
        old.process().destroyForcibly();
        try {
            old.process().waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        long deadline = System.nanoTime() + readyTimeout.toNanos();
        Pod fresh = launch("attention", ordinal, runDir.resolve("m2n-secret"), readyTimeout);
        attentionPods.set(ordinal, fresh);
        awaitReady(fresh, deadline, readyTimeout);
        return fresh;
    }

    /** Restarts expert pod {@code ordinal} (after it died or was killed) and waits until it is ready. */
    public Pod restartExpert(int ordinal, Duration readyTimeout) throws IOException {
        Pod old = expertPods.get(ordinal);
        old.process().destroyForcibly();
        try {
            old.process().waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Pod fresh = launch("expert", ordinal, runDir.resolve("m2n-secret"), readyTimeout);
        expertPods.set(ordinal, fresh);
        return fresh;
    }

    /** POSTs a JSON body to an attention pod's generate endpoint; returns status and body. */
    public HttpResponse<String> generate(int attentionOrdinal, String json, Duration timeout) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(URI.create(attentionPods.get(attentionOrdinal).url() + "/v1/shuttle/generate"))
                .timeout(timeout)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json))
                .build();
        return http.send(req, HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() {
        List<Pod> all = new ArrayList<>(attentionPods);
        all.addAll(expertPods);
        for (Pod p : all) {
            p.process().destroy();
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        for (Pod p : all) {
            try {
                long left = Math.max(0, deadline - System.nanoTime());
                if (!p.process().waitFor(left, java.util.concurrent.TimeUnit.NANOSECONDS)) {
                    p.process().destroyForcibly();
                    p.process().waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                p.process().destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        try {
            Files.deleteIfExists(runDir.resolve("m2n-secret")); // the logs stay for post-mortems
        } catch (IOException e) {
            System.err.println("cannot delete " + runDir.resolve("m2n-secret") + ": " + e.getMessage());
        }
        if (spec.trace() != null) {
            List<Path> parts = new ArrayList<>();
            all.forEach(p -> parts.add(tracePart(p.role(), p.ordinal())));
            try {
                ChromeTrace.merge(parts, spec.trace());
            } catch (IOException e) {
                System.err.println("cannot merge the trace files in " + runDir + ": " + e.getMessage());
            }
        }
    }

    static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 15), lines.size()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while starting the cluster", e);
        }
    }
}
