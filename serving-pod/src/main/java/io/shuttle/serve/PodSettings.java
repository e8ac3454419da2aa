package io.shuttle.serve;

import io.shuttle.m2n.TransportKind;

import java.nio.file.Path;

/**
 * What a serving pod needs to start, from flags, environment and the mounted plan.
 *
 * @param role      attention or expert
 * @param model     checkpoint folder
 * @param plan      plan file (docs/PLAN.md)
 * @param ordinal   this pod's index in its pool
 * @param secret    the deployment's M2N secret (≥ 16 bytes)
 * @param httpPort  port of the pod's HTTP endpoint (0: any free port, printed at start)
 * @param bindHost  address the M2N listener and HTTP bind to
 * @param transport M2N transport (auto: UCX where it loads, else TCP)
 * @param threads   compute threads
 * @param traceFile Chrome trace output of the pipeline (attention pods), or null
 * @param m2nActiveSpinMicros the longest M2N's progress thread polls before it blocks on the
 *                  event fd, idle or while a reply is expected; negative for M2N's defaults.
 *                  Polling saves the wake-up latency but takes CPU from a compute thread
 *                  sharing the core, and delays what arrives meanwhile.
 * @param servedModelName the model name of the OpenAI API ({@code /v1/models}); default: the model folder's name
 * @param device    compute device: cpu, cuda or cuda:N (kernels' {@code Backends})
 * @param expertRetry how long an attention pod retries steps whose expert round failed
 * @param warmup    longest warm-up of an attention pod before it reports ready ({@link PodWarmup}); zero: none
 */
public record PodSettings(Role role, Path model, Path plan, int ordinal, byte[] secret, int httpPort, String bindHost,
                          TransportKind transport, int threads, Path traceFile, long m2nActiveSpinMicros,
                          String servedModelName, String device, java.time.Duration expertRetry,
                          java.time.Duration warmup) {

    public enum Role { ATTENTION, EXPERT }

    public PodSettings {
        if (expertRetry == null || expertRetry.isNegative()) {
            throw new IllegalArgumentException("--expert-retry-seconds (SHUTTLE_EXPERT_RETRY_SECONDS) must be ≥ 0, got "
                    + (expertRetry == null ? "nothing" : expertRetry.toSeconds() + " s"));
        }
        if (warmup == null || warmup.isNegative()) {
            throw new IllegalArgumentException("--warmup-seconds (SHUTTLE_WARMUP_SECONDS) must be ≥ 0, got "
                    + (warmup == null ? "nothing" : warmup.toSeconds() + " s"));
        }
        if (ordinal < 0) {
            throw new IllegalArgumentException("the ordinal must be ≥ 0, got " + ordinal);
        }
        if (secret == null || secret.length < 16) {
            throw new IllegalArgumentException("the M2N secret must be at least 16 bytes (give --secret-file or "
                    + "SHUTTLE_M2N_SECRET)");
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be ≥ 1, got " + threads);
        }
        secret = secret.clone();
        if (device == null || device.isBlank()) {
            device = "cpu";
        }
        if (servedModelName == null || servedModelName.isBlank()) {
            Path name = model == null ? null : model.toAbsolutePath().normalize().getFileName();
            servedModelName = name == null ? "model" : name.toString();
        }
    }

    public PodSettings(Role role, Path model, Path plan, int ordinal, byte[] secret, int httpPort, String bindHost,
                       TransportKind transport, int threads, Path traceFile, long m2nActiveSpinMicros) {
        this(role, model, plan, ordinal, secret, httpPort, bindHost, transport, threads, traceFile, m2nActiveSpinMicros,
                null, "cpu", DEFAULT_EXPERT_RETRY, java.time.Duration.ZERO);
    }

    public PodSettings(Role role, Path model, Path plan, int ordinal, byte[] secret, int httpPort, String bindHost,
                       TransportKind transport, int threads, Path traceFile, long m2nActiveSpinMicros, String servedModelName) {
        this(role, model, plan, ordinal, secret, httpPort, bindHost, transport, threads, traceFile, m2nActiveSpinMicros,
                servedModelName, "cpu", DEFAULT_EXPERT_RETRY, java.time.Duration.ZERO);
    }

    /** As the canonical constructor, without a warm-up (embedded pods in tests). */
    public PodSettings(Role role, Path model, Path plan, int ordinal, byte[] secret, int httpPort, String bindHost,
                       TransportKind transport, int threads, Path traceFile, long m2nActiveSpinMicros, String servedModelName,
                       String device, java.time.Duration expertRetry) {
        this(role, model, plan, ordinal, secret, httpPort, bindHost, transport, threads, traceFile, m2nActiveSpinMicros,
                servedModelName, device, expertRetry, java.time.Duration.ZERO);
    }

    /**
     * How long an attention pod keeps retrying steps whose expert round failed (an expert pod
     * restarting, a placement change) before it ends the requests in them.
     */
    public static final java.time.Duration DEFAULT_EXPERT_RETRY = java.time.Duration.ofSeconds(120);

    /**
     * The longest warm-up of {@code shuttle serve}'s attention pods: it usually settles well
     * before (the JIT has compiled the kernels), and readiness waits for it.
     */
    public static final java.time.Duration DEFAULT_WARMUP = java.time.Duration.ofSeconds(30);

    /** The M2N node settings common to both roles. */
    public io.shuttle.m2n.NodeConfig nodeConfig(long deploymentId, int nodeId, java.net.InetSocketAddress bind) {
        io.shuttle.m2n.NodeConfig c = io.shuttle.m2n.NodeConfig.of(deploymentId, nodeId, secret).withBind(bind)
                .withTransport(transport);
        if (m2nActiveSpinMicros < 0) {
            return c;
        }
        // The limit covers the idle spin too (0 blocks at once, idle or not). History: when the
        // progress loop yielded on every poll, a polling thread on a core the compute thread needed
        // lost that core until the compute thread's time slice ended (perf sched, pinned m = 2:
        // scheduling delay 1.0–1.3 ms with the 50 µs idle spin, 0.05–0.27 ms with none), so pods
        // defaulted to 0. The loop now yields only while that hands the core over, and the pods'
        // default is 2 ms while a reply is expected (ServeCommand).
        java.time.Duration limit = java.time.Duration.ofNanos(m2nActiveSpinMicros * 1000);
        return c.withActiveSpin(limit).withSpin(limit.compareTo(c.spin()) < 0 ? limit : c.spin());
    }

    /** M2N node id of an attention pod. */
    public static int attentionNodeId(int ordinal) {
        return ordinal;
    }

    /** M2N node id of an expert pod (a separate range from attention pods). */
    public static int expertNodeId(int ordinal) {
        return 100_000 + ordinal;
    }

    /** A stable 64-bit id of the deployment name (FNV-1a), shared by all its pods. */
    public static long deploymentId(String deployment) {
        long h = 0xcbf29ce484222325L;
        for (byte b : deployment.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }
}
