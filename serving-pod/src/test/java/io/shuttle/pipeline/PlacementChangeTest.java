package io.shuttle.pipeline;

import io.shuttle.engine.Engine;
import io.shuttle.engine.EngineLoop;
import io.shuttle.engine.EngineOptions;
import io.shuttle.engine.ExpertStage;
import io.shuttle.engine.ExpertWeights;
import io.shuttle.engine.GenerationResult;
import io.shuttle.engine.SamplingParams;
import io.shuttle.engine.StepTrace;
import io.shuttle.kernels.Backend;
import io.shuttle.kernels.cpu.CpuBackend;
import io.shuttle.m2n.M2nNode;
import io.shuttle.m2n.NodeConfig;
import io.shuttle.m2n.TransportKind;
import io.shuttle.model.Checkpoint;
import io.shuttle.reference.SafetensorsWriter;
import io.shuttle.reference.TestCheckpoints;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The expert pods hold a placement the attention pod does not route by (a placement change in
 * progress): they refuse the rows instead of computing a partial answer, the attention pod's
 * steps are retried with its requests waiting, and once it routes by the placement the expert
 * pods hold, the request finishes with exactly the monolithic engine's tokens.
 */
class PlacementChangeTest {
    static final byte[] SECRET = "placement-secret-0123".getBytes(StandardCharsets.UTF_8);

    @Test
    void refusedRowsAreRetriedUntilTheAttentionPodRoutesByTheNewPlacement(@TempDir Path dir) throws Exception {
        TestCheckpoints.write(dir, TestCheckpoints.TOP2, 31, SafetensorsWriter.DType.F32); // 6 experts
        int m = 2;
        EngineOptions options = new EngineOptions(16, 4, 256, 8, 256);
        int[] prompt = {4, 8, 15, 16, 23, 42};
        GenerationResult expected;
        try (Checkpoint ckpt = Checkpoint.open(dir); Backend b = new CpuBackend(1); Engine mono = new Engine(ckpt, b, options)) {
            expected = mono.generate(List.of(prompt), SamplingParams.greedy(20, true), false).get(0);
        }
        List<List<Integer>> oldPlacement = List.of(List.of(0, 1, 2), List.of(3, 4, 5));
        List<List<Integer>> newPlacement = List.of(List.of(3, 4, 5), List.of(0, 1, 2)); // the pods swapped experts
        long deployment = 91;
        Duration timeout = Duration.ofSeconds(20);
        try (Checkpoint ckpt = Checkpoint.open(dir);
             Backend eb = new CpuBackend(1);
             Backend ab = new CpuBackend(1);
             M2nNode e0 = M2nNode.start(NodeConfig.of(deployment, 100, SECRET).withTransport(TransportKind.TCP));
             M2nNode e1 = M2nNode.start(NodeConfig.of(deployment, 101, SECRET).withTransport(TransportKind.TCP));
             M2nNode an = M2nNode.start(NodeConfig.of(deployment, 0, SECRET).withTransport(TransportKind.TCP))) {
            var cfg = ckpt.config();
            M2nNode[] nodes = {e0, e1};
            List<ExpertServer> servers = new ArrayList<>();
            List<Thread> threads = new ArrayList<>();
            for (int p = 0; p < 2; p++) { // the expert pods already run the new placement
                int[] held = newPlacement.get(p).stream().mapToInt(Integer::intValue).toArray();
                ExpertWeights w = ExpertWeights.load(ckpt, eb, held);
                ExpertServer server = new ExpertServer(nodes[p], rows -> new ExpertStage(cfg, w, eb, rows), eb,
                        cfg.numLayers(), m, cfg.hiddenSize(), cfg.topK(), 16, timeout);
                Thread t = new Thread(server::serve, "expert-" + p);
                t.setDaemon(true);
                t.start();
                servers.add(server);
                threads.add(t);
            }
            List<java.net.InetSocketAddress> addresses = List.of(e0.address(), e1.address());
            int[] ids = {100, 101};
            try (M2nExpertClient client = new M2nExpertClient(an, ab, new ExpertPlacement(oldPlacement, cfg.numExperts()),
                    addresses, ids, cfg.hiddenSize(), cfg.topK(), 16, m, timeout);
                 Engine engine = new Engine(ckpt, ab, options, client, m, StepTrace.NONE).retryFailedSteps(Duration.ofSeconds(60));
                 EngineLoop loop = new EngineLoop(engine, true, Duration.ofMillis(20), Duration.ofMillis(20), client::othersBusy).start()) {
                CompletableFuture<GenerationResult> result = loop.submit(prompt, SamplingParams.greedy(20, true), false);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (engine.retriedSteps() < 3 && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                assertTrue(engine.retriedSteps() >= 3, "steps were refused and retried: " + engine.retriedSteps());
                assertTrue(!result.isDone(), "the request waits while the placements disagree");
                long refused = servers.stream().mapToLong(s -> ((Number) s.stats().get("refused_messages")).longValue()).sum();
                assertTrue(refused > 0, "the expert pods refused rows of experts they do not hold");

                client.reroute(new M2nExpertClient.Routing(new ExpertPlacement(newPlacement, cfg.numExperts()), addresses, ids));
                assertArrayEquals(expected.generatedIds(), result.get(60, TimeUnit.SECONDS).generatedIds(),
                        "after the switch: exactly the monolithic engine's tokens");
                assertEquals(0, engine.stalledSince(), "the stall ended");
            } finally {
                servers.forEach(ExpertServer::stop);
                e0.close();
                e1.close();
                for (Thread t : threads) {
                    t.join(10_000);
                }
                servers.forEach(ExpertServer::close);
            }
        }
    }
}
