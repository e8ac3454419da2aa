package io.shuttle.e2e;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code shuttle local} as a person runs it: {@code java -jar quarkus-run.jar local --port P} in
 * its own process, read until its ready line. {@link #close()} stops it with SIGTERM (its
 * shutdown hook stops the pods) and then kills whatever of its process tree is left.
 */
final class LocalLauncher implements AutoCloseable {
    private static final Pattern READY = Pattern.compile(
            "^ready: OpenAI-compatible API at (http://\\S+/v1) \\(model \"([^\"]*)\"\\)");
    private static final Pattern STARTING = Pattern.compile("^starting .* model (\\S+) \\.\\.\\.$");
    private static final Pattern EXPERT = Pattern.compile("^\\s+expert\\s+(\\d+)\\s+(http://\\S+)\\s");
    private static final Pattern ATTENTION = Pattern.compile("^\\s+attention\\s+(\\d+)\\s+(http://\\S+)\\s+\\(log (.+)\\)$");
    private static final int OUTPUT_LINES_KEPT = 200;

    private final Process launcher;
    private final List<ProcessHandle> tree = new ArrayList<>();
    private final List<String> output = new ArrayList<>();
    private String baseUrl;
    private String model;
    private final List<String> expertUrls = new ArrayList<>();
    private String attentionUrl;
    private Path attentionLog;
    private Path modelDir;

    private LocalLauncher(Process launcher) {
        this.launcher = launcher;
        tree.add(launcher.toHandle());
    }

    /**
     * Starts {@code local --port PORT} plus {@code extraArgs} on a free port and waits (bounded)
     * for the ready line; on any failure the process tree is killed and the error carries the
     * launcher's output.
     */
    static LocalLauncher start(Duration readyTimeout, String... extraArgs) throws IOException {
        Path jar = Path.of(System.getProperty("shuttle.pod.jar", ""));
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("the serving pod's jar " + jar + " is missing: package serving-pod first "
                    + "(./mvnw -pl serving-pod,e2e -am verify builds it) or set -Dshuttle.pod.jar");
        }
        List<String> cmd = new ArrayList<>(List.of(javaBin(), "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-jar", jar.toString(), "local",
                "--port", Integer.toString(freePort()), "--max-tokens", "4"));
        if (!List.of(extraArgs).contains("--warmup-seconds")) {
            // The tests through this launcher are about the API, metrics and processes; the warm-up
            // (seconds per cluster on a 2-core runner) is covered by LocalClusterE2ETest.
            cmd.addAll(List.of("--warmup-seconds", "0"));
        }
        cmd.addAll(List.of(extraArgs));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().putIfAbsent("UCX_LOG_LEVEL", "error");
        LocalLauncher l = new LocalLauncher(pb.start());
        try {
            l.awaitReady(readyTimeout);
        } catch (IOException | RuntimeException e) {
            l.close();
            throw e;
        }
        return l;
    }

    private void awaitReady(Duration timeout) throws IOException {
        BufferedReader out = new BufferedReader(new InputStreamReader(launcher.getInputStream(), StandardCharsets.UTF_8));
        // Read on a separate thread so the wait itself is bounded even if the launcher stays silent.
        Thread reader = Thread.ofPlatform().daemon().name("local-launcher-output").start(() -> {
            try {
                String line;
                while ((line = out.readLine()) != null) {
                    onLine(line);
                }
            } catch (IOException e) {
                keep("[output closed: " + e.getMessage() + "]");
            }
        });
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            synchronized (this) {
                if (baseUrl != null) {
                    break;
                }
            }
            if (!launcher.isAlive() && !reader.isAlive()) {
                throw new IllegalStateException("shuttle local exited with code " + launcher.exitValue()
                        + " before it was ready; its output:\n" + output());
            }
            sleep(50);
        }
        synchronized (this) {
            if (baseUrl == null) {
                throw new IllegalStateException("shuttle local was not ready within " + timeout + "; its output:\n" + output());
            }
        }
        launcher.toHandle().descendants().forEach(tree::add);
    }

    private synchronized void onLine(String line) {
        keep(line);
        Matcher m;
        if ((m = READY.matcher(line)).find()) {
            baseUrl = m.group(1);
            model = m.group(2);
        } else if ((m = STARTING.matcher(line)).find()) {
            modelDir = Path.of(m.group(1));
        } else if ((m = EXPERT.matcher(line)).find()) {
            expertUrls.add(m.group(2));
        } else if ((m = ATTENTION.matcher(line)).find() && attentionUrl == null) {
            attentionUrl = m.group(2);
            attentionLog = Path.of(m.group(3));
        }
    }

    private synchronized void keep(String line) {
        output.add(line);
        if (output.size() > OUTPUT_LINES_KEPT) {
            output.remove(0);
        }
    }

    /** The launcher's last output lines (for failure messages). */
    synchronized String output() {
        return String.join("\n", output);
    }

    /** The API base, ending in {@code /v1}. */
    synchronized String baseUrl() {
        return baseUrl;
    }

    /** The attention pod's root URL (where {@code /metrics} and {@code /q/health} live). */
    synchronized String attentionUrl() {
        return attentionUrl;
    }

    synchronized String model() {
        return model;
    }

    /** The checkpoint folder the cluster serves. */
    synchronized Path modelDir() {
        return modelDir;
    }

    synchronized List<String> expertUrls() {
        return List.copyOf(expertUrls);
    }

    /** The attention pod's process: the child whose command line says {@code --role attention}. */
    ProcessHandle attentionProcess() {
        Optional<ProcessHandle> p = launcher.toHandle().children()
                .filter(h -> h.info().arguments().map(a -> String.join(" ", a).contains("--role attention")).orElse(false))
                .findFirst();
        return p.orElseThrow(() -> new IllegalStateException("no attention process among the launcher's children "
                + launcher.toHandle().children().map(h -> h.pid() + " " + h.info().commandLine().orElse("?")).toList()
                + "; attention log: " + attentionLog));
    }

    boolean isAlive() {
        return launcher.isAlive();
    }

    @Override
    public void close() {
        launcher.toHandle().descendants().forEach(h -> {
            if (!tree.contains(h)) {
                tree.add(h);
            }
        });
        launcher.destroy(); // SIGTERM: the launcher's hook stops its pods
        try {
            if (!launcher.waitFor(20, TimeUnit.SECONDS)) {
                launcher.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        for (ProcessHandle h : tree) {
            while (h.isAlive() && System.nanoTime() < deadline) {
                sleep(50);
            }
            h.destroyForcibly();
        }
    }

    /** GET with a timeout; returns status and body. */
    static HttpResponse<String> get(HttpClient http, String url) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(15)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** POSTs JSON with a timeout; returns status and body. */
    static HttpResponse<String> postJson(HttpClient http, String url, String json) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static final SplittableRandom PORTS = new SplittableRandom(System.nanoTime());

    /**
     * A port nobody listens on, below Linux's ephemeral range (32768+) so that an outgoing
     * connection cannot take it between this check and the server's bind.
     */
    static synchronized int freePort() throws IOException {
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = 20_000 + PORTS.nextInt(12_000);
            try (ServerSocket s = new ServerSocket()) {
                s.setReuseAddress(false);
                s.bind(new InetSocketAddress("127.0.0.1", port));
                return port;
            } catch (IOException taken) {
                // try another
            }
        }
        throw new IOException("no free port found in 20000-31999 on 127.0.0.1");
    }

    /** The executable's full path if it is on the PATH, else null. */
    static String onPath(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, name);
            if (Files.isExecutable(p) && !Files.isDirectory(p)) {
                return p.toString();
            }
        }
        return null;
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
