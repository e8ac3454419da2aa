package io.shuttle.cli;

import io.shuttle.m2n.TransportKind;
import io.shuttle.serve.AttentionPod;
import io.shuttle.serve.ExpertPod;
import io.shuttle.serve.PodSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
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
final class ServeCommand implements Callable<Integer> {

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

    // CPU pods: the compute thread needs the core the progress thread would poll on (measured:
    // m = 2 pipeline 1.47× over m = 1 with 0, 1.08× with M2N's 2 ms default, pinned 2-core machine).
    @Option(names = "--m2n-active-spin-us", defaultValue = "${env:SHUTTLE_M2N_ACTIVE_SPIN_US:-0}",
            description = "M2N progress-thread polling while a reply is expected, in µs (default: ${DEFAULT-VALUE}; -1 = M2N's own default).")
    long activeSpinMicros;

    @Option(names = "--parent-pid", description = "Exit when this process exits (used by shuttle local).")
    Long parentPid;

    @Override
    public Integer call() throws Exception {
        PodSettings settings = settings();
        PrintWriter out = spec.commandLine().getOut();
        CountDownLatch stop = new CountDownLatch(1);
        AutoCloseable pod;
        int port;
        if (settings.role() == PodSettings.Role.ATTENTION) {
            AttentionPod a = new AttentionPod(settings);
            pod = a;
            port = a.httpPort();
        } else {
            ExpertPod e = new ExpertPod(settings);
            pod = e;
            port = e.httpPort();
        }
        Thread hook = new Thread(() -> {
            stop.countDown();
            closeQuietly(pod);
        }, "shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        if (parentPid != null) {
            ProcessHandle.of(parentPid).ifPresentOrElse(
                    p -> p.onExit().thenRun(() -> System.exit(0)),
                    () -> System.exit(0));
        }
        out.printf(Locale.ROOT, "shuttle-ready role=%s ordinal=%d http=%d pid=%d%n",
                settings.role().name().toLowerCase(Locale.ROOT), settings.ordinal(), port, ProcessHandle.current().pid());
        out.flush();
        stop.await();
        return 0;
    }

    private PodSettings settings() throws IOException {
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
        return new PodSettings(r, model, plan, ordinal(), secret(), httpPort, bindHost, transport(), n, trace, activeSpinMicros);
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

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            System.err.println("error while stopping: " + e);
        }
    }
}
