package io.shuttle.api;

import io.shuttle.kernels.DType;
import io.shuttle.m2n.TransportKind;
import io.shuttle.metrics.ServingMetrics;
import io.shuttle.model.init.CheckpointGenerator;
import io.shuttle.model.init.Preset;
import io.shuttle.plan.PlanReader;
import io.shuttle.plan.ServingPlan;
import io.shuttle.serve.AttentionPod;
import io.shuttle.serve.ExpertPod;
import io.shuttle.serve.PodSettings;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A real disaggregated deployment inside the test JVM for the HTTP tests: the generated tiny
 * model, one attention pod and two expert pods talking M2N (TCP) on loopback, each a real
 * {@link AttentionPod}/{@link ExpertPod}. Small queue limits so a test can fill them.
 */
final class ApiTestCluster implements AutoCloseable {
    static final int MAX_RUNNING = 4;
    static final int MAX_WAITING = 4;
    static final int MAX_MODEL_LEN = 256;

    private static ApiTestCluster shared;

    final Path model;
    final AttentionPod attention;
    final List<ExpertPod> experts = new ArrayList<>();

    /** The JVM-wide cluster the Quarkus app of the tests serves (started once, installed into {@code runtime}). */
    static synchronized ApiTestCluster installShared(ServingRuntime runtime) throws IOException {
        if (shared == null) {
            shared = new ApiTestCluster(model(), runtime.metrics(), "api-test");
        }
        runtime.install(shared.attention);
        return shared;
    }

    static synchronized Path model() throws IOException {
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "shuttle-api-test-tiny-" + ProcessHandle.current().pid());
        if (!Files.exists(dir.resolve("model.safetensors"))) {
            CheckpointGenerator.write(Preset.tiny().config(), 7, DType.BF16, dir);
        }
        return dir;
    }

    /** A separate small deployment (its own metrics registry): for tests that break it. */
    ApiTestCluster(Path model, ServingMetrics attentionMetrics, String name) throws IOException {
        this.model = model;
        Path run = Files.createTempDirectory("shuttle-api-test-");
        Path plan = run.resolve("plan.json");
        int numExperts = Preset.tiny().config().numExperts();
        List<List<Integer>> placement = List.of(new ArrayList<>(), new ArrayList<>());
        for (int e = 0; e < numExperts; e++) {
            placement.get(e % 2).add(e);
        }
        ServingPlan p = new ServingPlan(ServingPlan.API_VERSION, ServingPlan.KIND, name,
                new ServingPlan.Pool(1, List.of("127.0.0.1:" + freePort()), null),
                new ServingPlan.ExpertPool(2, List.of("127.0.0.1:" + freePort(), "127.0.0.1:" + freePort()), null, placement),
                new ServingPlan.Pipeline(2, 256, MAX_RUNNING, MAX_WAITING, MAX_MODEL_LEN, 512, 16, 3_000));
        Files.writeString(plan, PlanReader.toJson(p));
        byte[] secret = "api-test-secret-0123456789".getBytes(StandardCharsets.UTF_8);
        for (int e = 0; e < 2; e++) {
            experts.add(new ExpertPod(settings(PodSettings.Role.EXPERT, e, plan, secret), new ServingMetrics()));
        }
        attention = new AttentionPod(settings(PodSettings.Role.ATTENTION, 0, plan, secret), attentionMetrics);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!attention.ready(Duration.ofSeconds(5)) && System.nanoTime() < deadline) {
            sleep(20);
        }
    }

    private PodSettings settings(PodSettings.Role role, int ordinal, Path plan, byte[] secret) {
        // A short retry budget: the tests that break the experts expect the requests to end soon.
        return new PodSettings(role, model, plan, ordinal, secret, 0, "127.0.0.1", TransportKind.TCP, 1, null, 0, "tiny",
                "cpu", Duration.ofSeconds(2));
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        attention.close();
        experts.forEach(ExpertPod::close);
    }
}
