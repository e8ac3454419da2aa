package io.shuttle.e2e.kube;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.HTTPGetAction;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * One incarnation of a pod (one pod object, one uid): its volumes, its init containers run to
 * completion in order, then its main container, restarted whenever it exits (restartPolicy
 * Always) after a growing back-off. A new pod object with the same name is a new
 * {@code PodRun} with fresh emptyDirs, as on a cluster.
 */
final class PodRun {
    enum State { CREATING, INITIALIZING, RUNNING, BACKOFF, TERMINATING, GONE }

    /** The last exit of the main container, for {@code lastState.terminated}. */
    record Exit(int code, String message, Instant finishedAt) {
    }

    private final Pod pod;
    private final String set;
    private final int ordinal;
    private final String revision;
    private final PodSandbox sandbox;
    private final KubeletSettings settings;
    private final Container main;
    private final List<ProcessHandle> history = new CopyOnWriteArrayList<>();
    private final CompletableFuture<Void> gone = new CompletableFuture<>();
    private final Object lock = new Object();
    private final List<String> events = new CopyOnWriteArrayList<>();

    private volatile State state = State.CREATING;
    private volatile String waitingMessage = "";
    private volatile Process current;
    private volatile int restarts;
    private volatile boolean ready;
    private volatile Exit lastExit;
    private volatile Instant startedAt;
    private volatile boolean stopping;
    private volatile Thread runner;

    PodRun(Pod pod, String set, int ordinal, String revision, KubernetesClient client, HostPorts ports, KubeletSettings settings)
            throws IOException {
        this.pod = pod;
        this.set = set;
        this.ordinal = ordinal;
        this.revision = revision;
        this.settings = settings;
        this.main = pod.getSpec().getContainers().getFirst();
        Path dir = Files.createTempDirectory(settings.root(), pod.getMetadata().getName() + "-");
        Files.createDirectories(dir.resolve("logs"));
        this.sandbox = new PodSandbox(client, pod, dir, ports, settings);
    }

    void start() {
        event("created (revision " + revision + ")");
        runner = Thread.ofPlatform().daemon().name("pod-" + name()).start(this::run);
    }

    String name() {
        return pod.getMetadata().getName();
    }

    String uid() {
        return pod.getMetadata().getUid();
    }

    String set() {
        return set;
    }

    int ordinal() {
        return ordinal;
    }

    String revision() {
        return revision;
    }

    State state() {
        return state;
    }

    boolean terminating() {
        return stopping;
    }

    /** Running, ready and not on its way out: what the StatefulSet controller waits for. */
    boolean healthy() {
        return !stopping && state == State.RUNNING && ready;
    }

    boolean ready() {
        return ready && !stopping;
    }

    int restarts() {
        return restarts;
    }

    PodSandbox sandbox() {
        return sandbox;
    }

    Container mainContainer() {
        return main;
    }

    private void event(String what) {
        events.add(java.time.LocalTime.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS) + " " + what);
    }

    /** What happened to this pod, with the local time of day. */
    List<String> events() {
        return List.copyOf(events);
    }

    /** Every process this pod started (init containers and each run of the main container). */
    List<ProcessHandle> processes() {
        return List.copyOf(history);
    }

    /** The main container's current process, if it runs. */
    java.util.Optional<ProcessHandle> process() {
        Process p = current;
        return state == State.RUNNING && p != null && p.isAlive() ? java.util.Optional.of(p.toHandle()) : java.util.Optional.empty();
    }

    Path log(Container c) {
        return sandbox.dir().resolve("logs").resolve(c.getName() + ".log");
    }

    private void run() {
        try {
            while (!stopping) {
                try {
                    sandbox.writeVolumes();
                    break;
                } catch (PodSandbox.MissingObjectException e) {
                    waitingMessage = e.getMessage();
                    Thread.sleep(500);
                }
            }
            event("volumes written");
            advance(State.INITIALIZING);
            for (Container init : pod.getSpec().getInitContainers()) {
                runInit(init);
            }
            advance(State.RUNNING);
            long backoff = 500;
            while (!stopping) {
                Instant began = Instant.now();
                Process p = launch(main);
                if (p == null) {
                    break;
                }
                startedAt = began;
                int code = p.waitFor();
                ready = false;
                event(main.getName() + " exited with " + code);
                if (stopping) {
                    break;
                }
                lastExit = new Exit(code, tail(log(main)), Instant.now());
                restarts++;
                advance(State.BACKOFF);
                // A container that ran for a while gets a fresh back-off, as the kubelet resets it after 10 minutes.
                backoff = Duration.between(began, Instant.now()).toSeconds() > 30 ? 500
                        : Math.min(backoff * 2, settings.maxBackoff().toMillis());
                Thread.sleep(backoff);
                advance(State.RUNNING);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            waitingMessage = "the local kubelet could not run pod " + name() + ": " + e;
            lastExit = new Exit(-1, waitingMessage, Instant.now());
            System.err.println(waitingMessage);
        } finally {
            ready = false;
        }
    }

    /** The runner's own state changes; once terminating, the stopping side owns the state. */
    private void advance(State next) {
        synchronized (lock) {
            if (!stopping) {
                state = next;
            }
        }
    }

    private void runInit(Container init) throws Exception {
        long backoff = 500;
        while (!stopping) {
            Process p = launch(init);
            if (p == null) {
                return;
            }
            if (!p.waitFor(settings.initTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("init container " + init.getName() + " of pod " + name() + " ran longer than "
                        + settings.initTimeout() + "; its log: " + tail(log(init)));
            }
            event(init.getName() + " exited with " + p.exitValue());
            if (p.exitValue() == 0) {
                return;
            }
            lastExit = new Exit(p.exitValue(), tail(log(init)), Instant.now());
            restarts++;
            waitingMessage = "init container " + init.getName() + " exited with " + p.exitValue();
            backoff = Math.min(backoff * 2, settings.maxBackoff().toMillis());
            Thread.sleep(backoff);
        }
    }

    /** Starts a container's process unless the pod is being stopped (then null). */
    private Process launch(Container c) throws IOException {
        synchronized (lock) {
            if (stopping) {
                return null;
            }
            Process p = sandbox.process(c, log(c), true).start();
            history.add(p.toHandle());
            event(c.getName() + " started, pid " + p.pid());
            current = p;
            return p;
        }
    }

    /** Polls the main container's readiness probe (HTTP GET), or counts a running container as ready if it has none. */
    void probe(HttpClient http) {
        Process p = current;
        if (stopping || state != State.RUNNING || p == null || !p.isAlive()) {
            ready = false;
            return;
        }
        if (main.getReadinessProbe() == null || main.getReadinessProbe().getHttpGet() == null) {
            ready = true;
            return;
        }
        HTTPGetAction get = main.getReadinessProbe().getHttpGet();
        String port = get.getPort().getStrVal() != null ? get.getPort().getStrVal() : Integer.toString(get.getPort().getIntVal());
        URI uri = URI.create("http://127.0.0.1:" + sandbox.hostPort(main, port) + get.getPath());
        try {
            HttpResponse<Void> r = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(1)).build(),
                    HttpResponse.BodyHandlers.discarding());
            boolean now = r.statusCode() >= 200 && r.statusCode() < 400;
            if (now != ready) {
                event(now ? "ready" : "not ready");
            }
            ready = now;
        } catch (IOException e) {
            ready = false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            ready = false;
        }
    }

    /**
     * SIGTERM to the current process (and its children), SIGKILL after the pod's grace period;
     * completes when no process of this pod is left.
     */
    CompletableFuture<Void> terminate() {
        synchronized (lock) {
            if (stopping) {
                return gone;
            }
            stopping = true;
            ready = false;
            state = State.TERMINATING;
        }
        event("terminating");
        long grace = pod.getSpec().getTerminationGracePeriodSeconds() == null ? 30 : pod.getSpec().getTerminationGracePeriodSeconds();
        Thread.ofPlatform().daemon().name("stop-" + name()).start(() -> {
            Thread r = runner;
            if (r != null) {
                r.interrupt();
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(grace).toNanos();
            preStop(deadline);
            for (ProcessHandle h : history) {
                h.descendants().forEach(ProcessHandle::destroy);
                h.destroy();
            }
            for (ProcessHandle h : history) {
                waitGone(h, deadline);
                if (h.isAlive()) {
                    h.descendants().forEach(ProcessHandle::destroyForcibly);
                    h.destroyForcibly();
                    waitGone(h, System.nanoTime() + Duration.ofSeconds(10).toNanos());
                }
            }
            try {
                if (r != null) {
                    r.join(Duration.ofSeconds(10));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            state = State.GONE;
            event("gone");
            gone.complete(null);
        });
        return gone;
    }

    /**
     * The main container's preStop hook, within the grace period. Only the {@code sleep} action
     * is run (what the operator uses, so the pod leaves the Service before SIGTERM); an
     * {@code exec} or {@code httpGet} hook cannot run here and is skipped.
     */
    private void preStop(long deadline) {
        var lifecycle = main.getLifecycle();
        var hook = lifecycle == null ? null : lifecycle.getPreStop();
        Process p = current;
        if (hook == null || hook.getSleep() == null || p == null || !p.isAlive() || state != State.TERMINATING) {
            return;
        }
        long sleepNanos = Math.min(Duration.ofSeconds(hook.getSleep().getSeconds()).toNanos(), deadline - System.nanoTime());
        try {
            Thread.sleep(Duration.ofNanos(Math.max(0, sleepNanos)));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void waitGone(ProcessHandle h, long deadline) {
        while (h.isAlive() && System.nanoTime() < deadline) {
            try {
                h.onExit().get(100, TimeUnit.MILLISECONDS);
            } catch (Exception stillRunning) {
                // keep waiting until the deadline
            }
        }
    }

    /** The pod's status as a kubelet reports it. */
    PodStatus status() {
        State s = state;
        boolean initialized = s == State.RUNNING || s == State.BACKOFF || s == State.TERMINATING;
        boolean isReady = ready();
        List<PodCondition> conditions = List.of(
                condition("PodScheduled", true),
                condition("Initialized", initialized),
                condition("ContainersReady", isReady),
                condition("Ready", isReady));
        ContainerStatusBuilder main = new ContainerStatusBuilder().withName(this.main.getName()).withImage(this.main.getImage())
                .withReady(isReady).withRestartCount(s == State.INITIALIZING ? 0 : restarts)
                .withStarted(s == State.RUNNING);
        switch (s) {
            case RUNNING -> main.withNewState().withNewRunning().withStartedAt(String.valueOf(startedAt)).endRunning().endState();
            case BACKOFF -> main.withNewState().withNewWaiting().withReason("CrashLoopBackOff")
                    .withMessage("back-off restarting failed container " + this.main.getName()).endWaiting().endState();
            case CREATING -> main.withNewState().withNewWaiting().withReason("ContainerCreating").withMessage(waitingMessage)
                    .endWaiting().endState();
            default -> main.withNewState().withNewWaiting().withReason("PodInitializing").endWaiting().endState();
        }
        Exit last = lastExit;
        if (last != null && s != State.INITIALIZING) {
            main.withNewLastState().withNewTerminated().withExitCode(last.code()).withReason(last.code() == 0 ? "Completed" : "Error")
                    .withMessage(last.message()).withFinishedAt(last.finishedAt().toString()).endTerminated().endLastState();
        }
        List<ContainerStatus> inits = new ArrayList<>();
        for (Container c : pod.getSpec().getInitContainers()) {
            ContainerStatusBuilder b = new ContainerStatusBuilder().withName(c.getName()).withImage(c.getImage()).withReady(initialized)
                    .withRestartCount(s == State.INITIALIZING ? restarts : 0);
            if (initialized) {
                b.withNewState().withNewTerminated().withExitCode(0).withReason("Completed").endTerminated().endState();
            } else if (s == State.INITIALIZING && last != null) {
                b.withNewState().withNewWaiting().withReason("CrashLoopBackOff").endWaiting().endState()
                        .withNewLastState().withNewTerminated().withExitCode(last.code()).withReason("Error")
                        .withMessage(last.message()).endTerminated().endLastState();
            } else {
                b.withNewState().withNewRunning().endRunning().endState();
            }
            inits.add(b.build());
        }
        return new PodStatusBuilder()
                .withPhase(initialized ? "Running" : "Pending")
                .withConditions(conditions)
                .withPodIP("127.0.0.1").withHostIP("127.0.0.1")
                .withInitContainerStatuses(inits)
                .withContainerStatuses(main.build())
                .build();
    }

    private static PodCondition condition(String type, boolean status) {
        return new PodConditionBuilder().withType(type).withStatus(status ? "True" : "False").build();
    }

    /**
     * {@code terminationMessagePolicy: FallbackToLogsOnError}: the end of the log (at most 80
     * lines or 2048 bytes, as the kubelet takes).
     */
    static String tail(Path log) {
        try {
            if (!Files.exists(log)) {
                return "";
            }
            List<String> lines = new String(Files.readAllBytes(log), StandardCharsets.UTF_8).lines().toList();
            String text = String.join("\n", lines.subList(Math.max(0, lines.size() - 80), lines.size()));
            return text.length() > 2048 ? text.substring(text.length() - 2048) : text;
        } catch (IOException | java.io.UncheckedIOException e) {
            return "(log " + log + " unreadable: " + e.getMessage() + ")";
        }
    }
}
