package io.shuttle.cli;

import io.shuttle.m2n.TransportKind;
import io.shuttle.serve.PodSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code shuttle serve}: one serving pod, attention or expert. Every setting comes from a flag
 * or, when the flag is absent, from the environment (what a Kubernetes pod spec sets), and the
 * mounted plan file. Prints one {@code shuttle-ready ...} line on stdout when it serves, and
 * stops cleanly on SIGTERM, or when {@code --parent-pid} exits (no orphans under
 * {@code shuttle local}).
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Run one serving pod: --role attention or expert. Flags fall back to SHUTTLE_* environment variables.")
public final class ServeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--role", defaultValue = "${env:SHUTTLE_ROLE}", description = "attention or expert (env SHUTTLE_ROLE).")
    String role;

    @Option(names = "--model", defaultValue = "${env:SHUTTLE_MODEL}", description = "Checkpoint folder (env SHUTTLE_MODEL).")
    Path model;

    @Option(names = "--plan", defaultValue = "${env:SHUTTLE_PLAN}", description = "Plan file, docs/PLAN.md (env SHUTTLE_PLAN).")
    Path plan;

    @Option(names = "--ordinal", defaultValue = "${env:SHUTTLE_ORDINAL}",
            description = "This pod's index in its pool (env SHUTTLE_ORDINAL; else the -N suffix of HOSTNAME, as in a StatefulSet).")
    String ordinal;

    @Option(names = "--secret-file", defaultValue = "${env:SHUTTLE_M2N_SECRET_FILE}",
            description = "File holding the deployment's M2N secret (env SHUTTLE_M2N_SECRET_FILE, or the secret itself in SHUTTLE_M2N_SECRET).")
    Path secretFile;

    @Option(names = "--http-port", defaultValue = "${env:SHUTTLE_HTTP_PORT:-8080}", description = "HTTP port; 0 = any free port (default: ${DEFAULT-VALUE}).")
    int httpPort;

    @Option(names = "--bind-host", defaultValue = "${env:SHUTTLE_BIND_HOST:-0.0.0.0}", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String bindHost;

    @Option(names = "--transport", defaultValue = "${env:SHUTTLE_TRANSPORT:-auto}", description = "M2N transport: auto, ucx or tcp (default: ${DEFAULT-VALUE}).")
    String transport;

    @Option(names = "--threads", defaultValue = "${env:SHUTTLE_THREADS:-0}", description = "Compute threads; 0 = all cores.")
    int threads;

    @Option(names = "--trace", description = "Write a Chrome/Perfetto trace of the pipeline (attention pods).")
    Path trace;

    // Polling 2 ms while a reply is expected (50 µs when idle) beats blocking at once now that the
    // progress loop yields the core as soon as someone else wants it (M2nNode): pinned 2-core
    // pipeline on the Zen 5 VM, m = 2 at 4,167-4,780 tok/s (1.86-1.92× m = 1) against 2,436-3,564
    // (0.98-1.55×) with 0, where every hand-off paid system calls (a wake-up signal, poll) that
    // cost tens of µs each on that VM (docs/BENCHMARKS.md). The idle spin stays short so an idle
    // pod costs little. (On the first Intel VM, before the adaptive yield, 0 was the better choice.)
    @Option(names = "--m2n-active-spin-us", defaultValue = "${env:SHUTTLE_M2N_ACTIVE_SPIN_US:-2000}",
            description = "Longest M2N progress-thread polling before it blocks on the event fd while a reply is expected, in µs; the idle polling is at most 50 µs and never longer than this (default: ${DEFAULT-VALUE}; 0 = block at once; -1 = M2N's own defaults).")
    long activeSpinMicros;

    @Option(names = "--parent-pid", description = "Exit when this process exits (used by shuttle local).")
    Long parentPid;

    @Option(names = "--api-key-file", defaultValue = "${env:SHUTTLE_API_KEY_FILE}",
            description = "File holding the API key clients must send as 'Authorization: Bearer KEY' (env SHUTTLE_API_KEY_FILE, "
                    + "or the key itself in SHUTTLE_API_KEY); none: no key needed.")
    Path apiKeyFile;

    @Option(names = "--device", defaultValue = "${env:SHUTTLE_DEVICE:-cpu}",
            description = "Compute device: cpu, cuda or cuda:N (env SHUTTLE_DEVICE; default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--drain-seconds", defaultValue = "${env:SHUTTLE_DRAIN_SECONDS:-30}",
            description = "On SIGTERM, how long an attention pod lets admitted requests finish before it stops (env SHUTTLE_DRAIN_SECONDS; default: ${DEFAULT-VALUE}).")
    int drainSeconds;

    @Option(names = "--expert-retry-seconds", defaultValue = "${env:SHUTTLE_EXPERT_RETRY_SECONDS:-120}",
            description = "How long an attention pod retries steps whose expert pods failed (a restart, a placement change) "
                    + "before ending the requests in them; they wait meanwhile (env SHUTTLE_EXPERT_RETRY_SECONDS; default: ${DEFAULT-VALUE}).")
    int expertRetrySeconds;

    @Option(names = "--warmup-seconds", defaultValue = "${env:SHUTTLE_WARMUP_SECONDS:-30}",
            description = "Longest warm-up of an attention pod before it reports ready: synthetic batches through the "
                    + "whole pipeline until their times settle and the JIT is quiet (env SHUTTLE_WARMUP_SECONDS; "
                    + "default: ${DEFAULT-VALUE}; 0 = none).")
    int warmupSeconds;

    @Option(names = "--served-model-name", defaultValue = "${env:SHUTTLE_SERVED_MODEL_NAME}",
            description = "Model name of the OpenAI API (env SHUTTLE_SERVED_MODEL_NAME; default: the model folder's name).")
    String servedModelName;

    /**
     * Checks every setting, then starts Quarkus (the HTTP side) with the pod inside it
     * ({@link io.shuttle.api.PodApplication}); returns when the pod stops.
     */
    @Override
    public Integer call() throws Exception {
        settings(); // every mistake is reported here, before Quarkus starts
        apiKey();
        drainTimeout();
        System.setProperty("quarkus.http.port", Integer.toString(httpPort));
        System.setProperty("quarkus.http.host", bindHost);
        String[] args = spec.commandLine().getParseResult().originalArgs().toArray(String[]::new);
        int[] exit = {0};
        io.quarkus.runtime.Quarkus.run(io.shuttle.api.PodApplication.class, (code, error) -> {
            exit[0] = code;
            if (error != null) {
                System.err.println("error: " + error.getMessage());
            }
        }, args);
        return exit[0];
    }

    /** Parses {@code serve}'s arguments (without the word "serve") into settings; used inside Quarkus. */
    public static ServeCommand parse(String... args) {
        ServeCommand c = new ServeCommand();
        java.util.List<String> list = new java.util.ArrayList<>(java.util.List.of(args));
        if (!list.isEmpty() && list.get(0).equals("serve")) {
            list.remove(0);
        }
        new picocli.CommandLine(c).parseArgs(list.toArray(String[]::new));
        return c;
    }

    /** How long to let admitted requests finish on SIGTERM. */
    public java.time.Duration drainTimeout() {
        if (drainSeconds < 0) {
            throw new IllegalArgumentException("--drain-seconds must be ≥ 0, got " + drainSeconds);
        }
        return java.time.Duration.ofSeconds(drainSeconds);
    }

    /** Exit when the parent process does (shuttle local), or null when not asked to. */
    public Long parentPid() {
        return parentPid;
    }

    /** The API key, from --api-key-file or SHUTTLE_API_KEY; null when none is configured. */
    public String apiKey() throws IOException {
        if (apiKeyFile != null) {
            if (!Files.isReadable(apiKeyFile)) {
                throw new IllegalArgumentException("--api-key-file " + apiKeyFile + " cannot be read");
            }
            String key = Files.readString(apiKeyFile).strip();
            if (key.isEmpty()) {
                throw new IllegalArgumentException("--api-key-file " + apiKeyFile + " is empty");
            }
            return key;
        }
        String env = System.getenv("SHUTTLE_API_KEY");
        return env == null || env.isBlank() ? null : env.strip();
    }

    public PodSettings settings() throws IOException {
        if (role == null) {
            throw new IllegalArgumentException("give --role attention|expert (or SHUTTLE_ROLE)");
        }
        PodSettings.Role r = switch (role.toLowerCase(Locale.ROOT)) {
            case "attention" -> PodSettings.Role.ATTENTION;
            case "expert", "experts" -> PodSettings.Role.EXPERT;
            default -> throw new IllegalArgumentException("--role must be attention or expert, got '" + role + "'");
        };
        if (model == null || !Files.isDirectory(model)) {
            throw new IllegalArgumentException("--model (or SHUTTLE_MODEL) must name a checkpoint folder, got " + model);
        }
        if (plan == null) {
            throw new IllegalArgumentException("give --plan FILE (or SHUTTLE_PLAN); see docs/PLAN.md");
        }
        int n = threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
        return new PodSettings(r, model, plan, ordinal(), secret(), httpPort, bindHost, transport(), n, trace, activeSpinMicros,
                servedModelName, device, java.time.Duration.ofSeconds(expertRetrySeconds),
                java.time.Duration.ofSeconds(warmupSeconds));
    }

    private int ordinal() {
        String value = ordinal;
        if (value == null) {
            String host = System.getenv("HOSTNAME");
            int dash = host == null ? -1 : host.lastIndexOf('-');
            if (dash < 0) {
                throw new IllegalArgumentException("give --ordinal (or SHUTTLE_ORDINAL); HOSTNAME has no -N suffix");
            }
            value = host.substring(dash + 1);
        }
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("the ordinal must be a number, got '" + value + "'");
        }
    }

    private byte[] secret() throws IOException {
        if (secretFile != null) {
            if (!Files.isReadable(secretFile)) {
                throw new IllegalArgumentException("--secret-file " + secretFile + " cannot be read");
            }
            return Files.readString(secretFile).strip().getBytes(StandardCharsets.UTF_8);
        }
        String env = System.getenv("SHUTTLE_M2N_SECRET");
        if (env == null || env.isBlank()) {
            throw new IllegalArgumentException("no M2N secret: give --secret-file, SHUTTLE_M2N_SECRET_FILE or SHUTTLE_M2N_SECRET");
        }
        return env.strip().getBytes(StandardCharsets.UTF_8);
    }

    private TransportKind transport() {
        return switch (transport.toLowerCase(Locale.ROOT)) {
            case "auto" -> TransportKind.AUTO;
            case "ucx" -> TransportKind.UCX;
            case "tcp" -> TransportKind.TCP;
            default -> throw new IllegalArgumentException("--transport must be auto, ucx or tcp, got '" + transport + "'");
        };
    }

}
