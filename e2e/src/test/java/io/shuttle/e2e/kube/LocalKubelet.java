package io.shuttle.e2e.kube;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetStatus;
import io.fabric8.kubernetes.api.model.apps.StatefulSetStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.utils.Serialization;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A small kubelet plus StatefulSet controller for the Fabric8 mock API server: it watches the
 * StatefulSets of one namespace and runs their pods as real local processes
 * ({@link PodRun}, {@link PodSandbox}), and writes the pod objects and the StatefulSets' status
 * back, so the operator sees what it would see on a cluster.
 *
 * <p>StatefulSet semantics kept: pods {@code <set>-<ordinal>} with the {@code
 * apps.kubernetes.io/pod-index}, {@code statefulset.kubernetes.io/pod-name} and {@code
 * controller-revision-hash} labels and an owner reference to the set; {@code Parallel} pod
 * management (missing pods created and surplus pods removed all at once); {@code RollingUpdate}
 * as the controller does it: the highest ordinal not on the update revision is replaced, and the
 * roll waits whenever a pod (from the highest ordinal down) is not yet Running and Ready; a
 * pod's name is reused only after its previous incarnation's processes are gone. Kubelet
 * semantics kept: init containers in order, restartPolicy Always with back-off, readiness from
 * the template's HTTP probe, termination with SIGTERM and SIGKILL after the grace period, a
 * deleted pod object stops its processes. The mock has no garbage collector, so
 * {@link OwnerGarbageCollector} runs in every pass.
 *
 * <p>Not emulated: liveness and startup probes, resource limits other than the JVM's memory
 * (-XX:MaxRAM), scheduling, read-only mounts and the security context.
 */
public final class LocalKubelet implements AutoCloseable {
    public static final String POD_INDEX_LABEL = "apps.kubernetes.io/pod-index";
    static final String POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name";
    static final String REVISION_LABEL = "controller-revision-hash";
    static final String NODE = "local-kubelet";

    private final KubernetesClient client;
    private final String namespace;
    private final KubeletSettings settings;
    private final HostPorts ports = new HostPorts(20_260_101L);
    private final OwnerGarbageCollector gc;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
    /** The current incarnation of each pod name (terminating ones stay until their processes are gone). */
    private final Map<String, PodRun> runs = new ConcurrentHashMap<>();
    private final List<PodRun> allRuns = new CopyOnWriteArrayList<>();
    private final Map<String, String> currentRevisions = new ConcurrentHashMap<>();
    private final Map<String, PodStatus> writtenPodStatus = new ConcurrentHashMap<>();
    private final Semaphore wake = new Semaphore(0);
    private final List<Watch> watches = new ArrayList<>();
    private final List<String> errors = new CopyOnWriteArrayList<>();
    private volatile boolean running;
    private Thread loop;

    public LocalKubelet(KubernetesClient client, String namespace, KubeletSettings settings) {
        this.client = client;
        this.namespace = namespace;
        this.settings = settings;
        this.gc = new OwnerGarbageCollector(client, namespace);
    }

    public void start() {
        running = true;
        watches.add(client.apps().statefulSets().inNamespace(namespace).watch(new WakeUp<>()));
        watches.add(client.pods().inNamespace(namespace).watch(new WakeUp<>()));
        watches.add(client.resources(io.shuttle.operator.api.MoEDeployment.class).inNamespace(namespace).watch(new WakeUp<>()));
        loop = Thread.ofPlatform().daemon().name("local-kubelet").start(this::loop);
    }

    /** Any change to a watched object starts a pass at once; passes also run every probe period. */
    private final class WakeUp<T> implements Watcher<T> {
        @Override
        public void eventReceived(Action action, T resource) {
            wake.release();
        }

        @Override
        public void onClose(WatcherException cause) {
            if (running) {
                errors.add("a watch closed: " + cause);
            }
        }
    }

    private void loop() {
        while (running) {
            try {
                syncOnce();
            } catch (KubernetesClientException e) {
                // a conflict or a vanished object: the next pass reads again
                if (e.getCode() != 409 && e.getCode() != 404) {
                    remember(e);
                }
            } catch (RuntimeException e) {
                remember(e);
            }
            try {
                wake.tryAcquire(settings.probePeriod().toMillis(), TimeUnit.MILLISECONDS);
                wake.drainPermits();
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** One object's failure (a write conflict, say) must not hold up the others; the next pass retries it. */
    private void isolated(Runnable step) {
        try {
            step.run();
        } catch (KubernetesClientException e) {
            if (e.getCode() != 409 && e.getCode() != 404) {
                remember(e);
            }
        }
    }

    private void remember(Exception e) {
        if (errors.size() < 50) {
            errors.add(e.toString());
        }
        if (running) {
            System.err.println("local-kubelet: " + e);
        }
    }

    private void syncOnce() {
        gc.collect();
        Map<String, Pod> live = new LinkedHashMap<>();
        client.pods().inNamespace(namespace).list().getItems().forEach(p -> live.put(p.getMetadata().getName(), p));
        // The kubelet side: a pod object that is gone (or replaced) stops its processes.
        for (PodRun run : runs.values()) {
            Pod p = live.get(run.name());
            if (!run.terminating() && (p == null || !Objects.equals(p.getMetadata().getUid(), run.uid()))) {
                run.terminate();
            }
            if (run.state() == PodRun.State.GONE) {
                runs.remove(run.name(), run);
                writtenPodStatus.remove(run.uid());
            }
        }
        // The StatefulSet controller side.
        for (StatefulSet set : client.apps().statefulSets().inNamespace(namespace).list().getItems()) {
            isolated(() -> syncSet(set, live));
        }
        // Probes and pod status; mounted ConfigMaps follow their objects, as on a real node.
        for (PodRun run : runs.values()) {
            run.probe(http);
            isolated(() -> writePodStatus(run));
            if (!run.terminating()) {
                isolated(() -> {
                    try {
                        run.sandbox().refreshConfigMaps();
                    } catch (java.io.IOException e) {
                        remember(e);
                    }
                });
            }
        }
    }

    private void syncSet(StatefulSet set, Map<String, Pod> live) {
        String name = set.getMetadata().getName();
        int replicas = Optional.ofNullable(set.getSpec().getReplicas()).orElse(1);
        String updateRevision = revision(name, set.getSpec().getTemplate());
        String currentRevision = currentRevisions.computeIfAbsent(name, k -> updateRevision);
        boolean parallel = "Parallel".equals(set.getSpec().getPodManagementPolicy());

        for (PodRun run : runsOf(name)) {
            if (run.ordinal() >= replicas && !run.terminating()) {
                deletePod(run); // scale-in (Parallel: all at once)
            }
        }
        for (int ordinal = 0; ordinal < replicas; ordinal++) {
            String podName = name + "-" + ordinal;
            if (!runs.containsKey(podName)) {
                createPod(set, ordinal, updateRevision, live.get(podName));
                if (!parallel) {
                    break; // OrderedReady: one at a time (the next pass goes on once this one is ready)
                }
            } else if (!parallel && !runs.get(podName).healthy()) {
                break;
            }
        }
        // RollingUpdate, highest ordinal first, waiting for each replaced pod to be Running and Ready.
        for (int target = replicas - 1; target >= 0; target--) {
            PodRun run = runs.get(name + "-" + target);
            if (run == null || run.terminating()) {
                break;
            }
            if (!run.revision().equals(updateRevision)) {
                deletePod(run);
                break;
            }
            if (!run.healthy()) {
                break;
            }
        }
        writeSetStatus(set, replicas, currentRevision, updateRevision);
    }

    private List<PodRun> runsOf(String set) {
        return runs.values().stream().filter(r -> r.set().equals(set)).toList();
    }

    private void createPod(StatefulSet set, int ordinal, String revision, Pod stale) {
        String setName = set.getMetadata().getName();
        String podName = setName + "-" + ordinal;
        if (stale != null) {
            // An object left from an incarnation this kubelet does not run: remove it first.
            client.resource(stale).inNamespace(namespace).delete();
            return;
        }
        PodTemplateSpec template = set.getSpec().getTemplate();
        Map<String, String> labels = new LinkedHashMap<>(template.getMetadata().getLabels());
        labels.put(POD_INDEX_LABEL, Integer.toString(ordinal));
        labels.put(POD_NAME_LABEL, podName);
        labels.put(REVISION_LABEL, revision);
        Pod pod = new PodBuilder()
                .withMetadata(new ObjectMetaBuilder().withName(podName).withNamespace(namespace).withLabels(labels)
                        .withAnnotations(template.getMetadata().getAnnotations())
                        .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("apps/v1").withKind("StatefulSet")
                                .withName(setName).withUid(set.getMetadata().getUid()).withController(true)
                                .withBlockOwnerDeletion(true).build())
                        .build())
                .withSpec(Serialization.clone(template.getSpec()))
                .editSpec().withHostname(podName).withSubdomain(set.getSpec().getServiceName()).withNodeName(NODE)
                .withRestartPolicy("Always").endSpec()
                .build();
        Pod created = client.resource(pod).inNamespace(namespace).create();
        try {
            PodRun run = new PodRun(created, setName, ordinal, revision, client, ports, settings);
            runs.put(podName, run);
            allRuns.add(run);
            run.start();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot prepare the folder of pod " + podName, e);
        }
    }

    private void deletePod(PodRun run) {
        run.terminate();
        try {
            client.pods().inNamespace(namespace).withName(run.name()).delete();
        } catch (KubernetesClientException e) {
            // already gone
        }
    }

    private void writePodStatus(PodRun run) {
        PodStatus status = run.status();
        if (status.equals(writtenPodStatus.get(run.uid())) || run.terminating()) {
            return;
        }
        Pod pod = client.pods().inNamespace(namespace).withName(run.name()).get();
        if (pod == null || !Objects.equals(pod.getMetadata().getUid(), run.uid())) {
            return;
        }
        pod.setStatus(status);
        client.resource(pod).inNamespace(namespace).updateStatus();
        writtenPodStatus.put(run.uid(), status);
    }

    private void writeSetStatus(StatefulSet set, int replicas, String currentRevision, String updateRevision) {
        List<PodRun> active = runsOf(set.getMetadata().getName()).stream().filter(r -> !r.terminating()).toList();
        int ready = (int) active.stream().filter(PodRun::ready).count();
        int updated = (int) active.stream().filter(r -> r.revision().equals(updateRevision)).count();
        String current = currentRevision;
        if (updated == replicas && active.size() == replicas && !current.equals(updateRevision)) {
            current = updateRevision; // the roll is complete
            currentRevisions.put(set.getMetadata().getName(), current);
        }
        String cur = current;
        int atCurrent = (int) active.stream().filter(r -> r.revision().equals(cur)).count();
        StatefulSetStatusBuilder b = new StatefulSetStatusBuilder()
                .withReplicas(active.size()).withReadyReplicas(ready).withAvailableReplicas(ready)
                .withCurrentReplicas(atCurrent).withUpdatedReplicas(updated)
                .withCurrentRevision(current).withUpdateRevision(updateRevision);
        if (set.getMetadata().getGeneration() != null) {
            b.withObservedGeneration(set.getMetadata().getGeneration());
        }
        StatefulSetStatus status = b.build();
        if (status.equals(set.getStatus())) {
            return;
        }
        set.setStatus(status);
        client.resource(set).inNamespace(namespace).updateStatus();
    }

    /** {@code <set>-<10 hex of the template's hash>}, as the controller's revision names. */
    public static String revision(String set, PodTemplateSpec template) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256")
                    .digest(Serialization.asJson(template).getBytes(StandardCharsets.UTF_8));
            return set + "-" + HexFormat.of().formatHex(digest).substring(0, 10);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    // ---- what tests look at ----

    /** {@code http://127.0.0.1:<host port>} of container port {@code port} (name or number) of pod {@code pod}'s main container. */
    public Optional<URI> podUrl(String pod, String port) {
        PodRun run = runs.get(pod);
        if (run == null || run.terminating()) {
            return Optional.empty();
        }
        return Optional.of(URI.create("http://127.0.0.1:" + run.sandbox().hostPort(run.mainContainer(), port)));
    }

    /** The local folder of volume {@code volume} of the running pod {@code pod}. */
    public Path volume(String pod, String volume) {
        PodRun run = runs.get(pod);
        if (run == null) {
            throw new IllegalArgumentException("the local kubelet runs no pod " + pod + "; it runs " + runs.keySet());
        }
        return run.sandbox().volume(volume);
    }

    /** The main container's process of pod {@code pod}, while it runs. */
    public Optional<ProcessHandle> mainProcess(String pod) {
        PodRun run = runs.get(pod);
        return run == null || run.terminating() ? Optional.empty() : run.process();
    }

    /** Every process any pod ever started here (init containers included), alive or not. */
    public List<ProcessHandle> allProcesses() {
        return allRuns.stream().flatMap(r -> r.processes().stream()).toList();
    }

    /** Names of the pods this kubelet runs now (terminating ones included). */
    public List<String> pods() {
        return runs.keySet().stream().sorted().toList();
    }

    /** Errors the sync loop met (other than conflicts), for assertion messages. */
    public List<String> errors() {
        return List.copyOf(errors);
    }

    /** One line per pod incarnation with its state and the end of its log: for failure messages. */
    public String describe() {
        StringBuilder s = new StringBuilder("local kubelet pods:\n");
        for (PodRun r : allRuns) {
            s.append(String.format("  %s uid=%s rev=%s state=%s ready=%s restarts=%d dir=%s%n", r.name(), r.uid(), r.revision(),
                    r.state(), r.ready(), r.restarts(), r.sandbox().dir()));
            s.append("      events: ").append(String.join(", ", r.events())).append('\n');
            String tail = PodRun.tail(r.log(r.mainContainer()));
            String[] lines = tail.lines().toArray(String[]::new);
            for (int i = Math.max(0, lines.length - 8); i < lines.length; i++) {
                s.append("      | ").append(lines[i]).append('\n');
            }
        }
        if (!errors.isEmpty()) {
            s.append("  sync errors: ").append(errors).append('\n');
        }
        return s.toString();
    }

    /** One line per pod incarnation: what happened to it and when (creation, init, start, ready, termination). */
    public String timeline() {
        StringBuilder s = new StringBuilder();
        for (PodRun r : allRuns) {
            s.append("  ").append(r.name()).append(": ").append(String.join(", ", r.events())).append('\n');
        }
        return s.toString();
    }

    /** Stops the loop and the watches, then every pod (bounded by their grace periods); kills whatever is left. */
    @Override
    public void close() {
        running = false;
        if (loop != null) {
            loop.interrupt();
            try {
                loop.join(Duration.ofSeconds(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        watches.forEach(Watch::close);
        List<java.util.concurrent.CompletableFuture<Void>> stops = allRuns.stream().map(PodRun::terminate).toList();
        try {
            java.util.concurrent.CompletableFuture.allOf(stops.toArray(java.util.concurrent.CompletableFuture[]::new))
                    .get(70, TimeUnit.SECONDS);
        } catch (Exception e) {
            // fall through to the forced kill
        }
        for (ProcessHandle h : allProcesses()) {
            h.descendants().forEach(ProcessHandle::destroyForcibly);
            h.destroyForcibly();
        }
    }
}
