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
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Attention pods join and leave an expert server that is serving another one, in one JVM over
 * real M2N nodes. The running attention pod has no retry budget, so a single failed step would
 * fail its request: a join or a leave must cost it nothing, and every output must be the
 * monolithic engine's.
 */
class ExpertMembershipTest {
    static final byte[] SECRET = "membership-secret-0123".getBytes(StandardCharsets.UTF_8);

    @Test
    void attentionPodsJoinAndLeaveWithoutFailingAnyStepOfTheOthers(@TempDir Path dir) throws Exception {
        TestCheckpoints.write(dir, TestCheckpoints.TOP2, 23, SafetensorsWriter.DType.F32);
        int m = 2;
        EngineOptions options = new EngineOptions(16, 4, 256, 8, 1024);
        int[] longPrompt = {5, 9, 13, 17};
        int[] shortPrompt = {7, 8, 9, 10, 11, 12, 13};
        int longTokens = 600;
        GenerationResult longExpected;
        GenerationResult shortExpected;
        try (Checkpoint ckpt = Checkpoint.open(dir); Backend b = new CpuBackend(1); Engine mono = new Engine(ckpt, b, options)) {
            longExpected = mono.generate(List.of(longPrompt), SamplingParams.greedy(longTokens, true), false).get(0);
            shortExpected = mono.generate(List.of(shortPrompt), SamplingParams.greedy(10, true), false).get(0);
        }
        long deployment = 77;
        Duration timeout = Duration.ofSeconds(20);
        try (Checkpoint ckpt = Checkpoint.open(dir);
             Backend eb = new CpuBackend(1);
             M2nNode expert0 = M2nNode.start(NodeConfig.of(deployment, 100, SECRET).withTransport(TransportKind.TCP));
             M2nNode expert1 = M2nNode.start(NodeConfig.of(deployment, 101, SECRET).withTransport(TransportKind.TCP))) {
            var cfg = ckpt.config();
            // Two expert pods, each with half of the experts: a newcomer must be taken in by both
            // consistently, or one waits for it while the other leaves it waiting.
            ExpertPlacement placement = ExpertPlacement.roundRobin(cfg.numExperts(), 2);
            M2nNode[] nodes = {expert0, expert1};
            List<ExpertServer> servers = new java.util.ArrayList<>();
            List<Thread> threads = new java.util.ArrayList<>();
            for (int p = 0; p < 2; p++) {
                ExpertWeights weights = ExpertWeights.load(ckpt, eb, placement.heldBy(p));
                // Sized for one attention pod: the second one makes it grow its buffers.
                ExpertServer server = new ExpertServer(nodes[p], rows -> new ExpertStage(cfg, weights, eb, rows), eb,
                        cfg.numLayers(), m, cfg.hiddenSize(), cfg.topK(), options.maxBatchTokens(), timeout);
                Thread t = new Thread(server::serve, "expert-server-" + p);
                t.setDaemon(true);
                t.start();
                servers.add(server);
                threads.add(t);
            }
            try (Attention a = new Attention(ckpt, deployment, 1, nodes, placement, options, m, timeout)) {
                CompletableFuture<GenerationResult> longRun = a.loop.submit(longPrompt,
                        SamplingParams.greedy(longTokens, true), false);
                for (ExpertServer server : servers) {
                    awaitMembers(server, Set.of(1));
                }
                long served = servers.get(0).roundsServed();
                while (servers.get(0).roundsServed() < served + 20) {
                    Thread.sleep(1);
                }
                // Join: a second attention pod starts while the first decodes, and serves.
                for (int round = 0; round < 3; round++) { // several joins, each landing somewhere else in the step
                    try (Attention b = new Attention(ckpt, deployment, 2, nodes, placement, options, m, timeout)) {
                        GenerationResult fromB = b.loop.submit(shortPrompt, SamplingParams.greedy(10, true), false)
                                .get(60, TimeUnit.SECONDS);
                        assertArrayEquals(shortExpected.generatedIds(), fromB.generatedIds(), "the joined pod's output");
                        for (ExpertServer server : servers) { // answered on its own until its rounds line up
                            awaitMembers(server, Set.of(1, 2));
                        }
                        assertTrue(!longRun.isDone(), "the long request spans the join");
                    }
                    // Leave: the second pod closed; the first goes on.
                    for (ExpertServer server : servers) {
                        awaitMembers(server, Set.of(1));
                    }
                }
                assertTrue(!longRun.isDone(), "the long request spans the leaves");
                assertArrayEquals(longExpected.generatedIds(), longRun.get(60, TimeUnit.SECONDS).generatedIds(),
                        "the running pod's request, through joins and leaves, with no retry budget");
                for (ExpertServer server : servers) {
                    assertEquals(3L, server.stats().get("drops"), "one drop per leave: " + server.stats());
                }
            } finally {
                servers.forEach(ExpertServer::stop);
                expert0.close();
                expert1.close();
                for (Thread t : threads) {
                    t.join(10_000);
                }
                servers.forEach(ExpertServer::close);
            }
        }
    }

    private static void awaitMembers(ExpertServer server, Set<Integer> expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!server.members().equals(expected) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(expected, server.members());
    }

    /** An attention pod in this JVM: its node, client, engine and lockstep loop. */
    private static final class Attention implements AutoCloseable {
        final M2nNode node;
        final Backend backend = new CpuBackend(1);
        final M2nExpertClient client;
        final Engine engine;
        final EngineLoop loop;

        Attention(Checkpoint ckpt, long deployment, int nodeId, M2nNode[] experts, ExpertPlacement placement,
                  EngineOptions options, int m, Duration timeout) {
            var cfg = ckpt.config();
            node = M2nNode.start(NodeConfig.of(deployment, nodeId, SECRET).withTransport(TransportKind.TCP));
            client = new M2nExpertClient(node, backend, placement, java.util.Arrays.stream(experts).map(M2nNode::address).toList(),
                    new int[] {100, 101}, cfg.hiddenSize(), cfg.topK(), options.maxBatchTokens(), m, timeout);
            engine = new Engine(ckpt, backend, options, client, m, StepTrace.NONE); // no retries: a failed step fails
            loop = new EngineLoop(engine, true, Duration.ofMillis(20), Duration.ofMillis(50), client::othersBusy).start();
        }

        @Override
        public void close() {
            loop.close();
            engine.close();
            client.close();
            node.close();
            backend.close();
        }
    }
}
