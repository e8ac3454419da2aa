package io.shuttle.pipeline;

import io.shuttle.engine.Engine;
import io.shuttle.engine.EngineOptions;
import io.shuttle.engine.ExpertStage;
import io.shuttle.engine.ExpertUnavailableException;
import io.shuttle.engine.ExpertWeights;
import io.shuttle.engine.GenerationResult;
import io.shuttle.engine.SamplingParams;
import io.shuttle.engine.StepTrace;
import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import io.shuttle.kernels.cpu.CpuBackend;
import io.shuttle.m2n.M2nNode;
import io.shuttle.m2n.NodeConfig;
import io.shuttle.m2n.TransportKind;
import io.shuttle.model.Checkpoint;
import io.shuttle.reference.SafetensorsWriter;
import io.shuttle.reference.TestCheckpoints;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The attention side and two expert servers in one JVM, talking through real M2N nodes over
 * loopback TCP: the disaggregated data path (dispatch of routed rows, aggregation, combine)
 * must give the monolithic engine's greedy output.
 */
class M2nPipelineTest {

    @TempDir
    static Path dir;
    static final TestCheckpoints.Spec SPEC = TestCheckpoints.TOP2; // 6 experts, top-2, 3 layers
    static final byte[] SECRET = "test-secret-0123456789".getBytes(StandardCharsets.UTF_8);

    @BeforeAll
    static void checkpoint() {
        TestCheckpoints.write(dir, SPEC, 41, SafetensorsWriter.DType.BF16);
    }

    @Test
    void disaggregatedOutputEqualsMonolithicWithReplicatedExperts() throws Exception {
        // Pod 0 holds experts 0-3, pod 1 holds 2-5: experts 2 and 3 are replicated. The pods'
        // partial rows are summed in another order than the monolithic engine's sum over experts.
        assertSameOutputAsMonolithic(List.of(List.of(0, 1, 2, 3), List.of(2, 3, 4, 5)), 1e-4);
    }

    @Test
    void oneExpertPodGivesTheMonolithicEnginesOutput() throws Exception {
        // One pod has every row: its reply is added straight into the residual instead of being
        // summed into a cleared tensor first. The rounds hold other rows than the monolithic
        // engine's (two lanes against one), and an expert GEMM's kernel depends on its row
        // count, so logits may differ in the last bits; a missing or doubled add would not.
        assertSameOutputAsMonolithic(List.of(List.of(0, 1, 2, 3, 4, 5)), 1e-4);
    }

    /**
     * An expert pod that never answers: the round fails once the client's timeout passes, naming
     * the round (the name is built only on this path, not on every round).
     */
    @Test
    void aSilentExpertPodFailsTheRoundByName() throws Exception {
        long deployment = 43;
        int hidden = 8;
        int topK = 2;
        try (M2nNode attentionNode = M2nNode.start(NodeConfig.of(deployment, 0, SECRET).withTransport(TransportKind.TCP));
             M2nNode silent = M2nNode.start(NodeConfig.of(deployment, 100, SECRET).withTransport(TransportKind.TCP));
             Backend b = new CpuBackend(1)) {
            ExpertPlacement placement = new ExpertPlacement(List.of(List.of(0, 1, 2, 3)), 4);
            try (M2nExpertClient client = new M2nExpertClient(attentionNode, b, placement, List.of(silent.address()),
                    new int[] {100}, hidden, topK, 4, 1, Duration.ofMillis(300))) {
                Tensor x = b.allocate(DType.F32, 2, hidden);
                Tensor ids = b.allocate(DType.I32, 2, topK);
                Tensor weights = b.allocate(DType.F32, 2, topK);
                Tensor out = b.allocate(DType.F32, 2, hidden);
                for (int i = 0; i < 2 * topK; i++) {
                    ids.data().setAtIndex(ValueLayout.JAVA_INT, i, i % 4);
                    weights.data().setAtIndex(ValueLayout.JAVA_FLOAT, i, 0.5f);
                }
                client.dispatch(7, 1, 0, x, ids, weights, out);
                long start = System.nanoTime();
                ExpertUnavailableException e = assertThrows(ExpertUnavailableException.class,
                        () -> client.awaitCombine(7, 1, 0));
                long waitedMs = (System.nanoTime() - start) / 1_000_000;
                assertTrue(e.getMessage().contains("the expert pods' results for step 7 layer 1 micro-batch 0"),
                        e.getMessage());
                assertTrue(waitedMs < 5_000, "failed after " + waitedMs + " ms, not at the 300 ms timeout");
            }
        }
    }

    private void assertSameOutputAsMonolithic(List<List<Integer>> perPod, double logitTolerance) throws Exception {
        int m = 2;
        EngineOptions options = new EngineOptions(32, 8, 128, 8, 128);
        SplittableRandom r = new SplittableRandom(3);
        List<int[]> prompts = new ArrayList<>();
        for (int len : new int[] {5, 1, 17, 9}) {
            prompts.add(r.ints(len, 3, SPEC.vocab()).toArray());
        }
        List<GenerationResult> expected;
        try (Checkpoint ckpt = Checkpoint.open(dir); Backend b = new CpuBackend(1);
             Engine mono = new Engine(ckpt, b, options)) {
            expected = mono.generate(prompts, SamplingParams.greedy(6, true), false);
        }

        long deployment = 42;
        int pods = perPod.size();
        List<AutoCloseable> resources = new ArrayList<>();
        List<ExpertServer> servers = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        try (M2nNode attentionNode = M2nNode.start(NodeConfig.of(deployment, 0, SECRET).withTransport(TransportKind.TCP));
             Checkpoint ckpt = Checkpoint.open(dir);
             Backend attentionBackend = new CpuBackend(1)) {
            var cfg = ckpt.config();
            List<InetSocketAddress> addresses = new ArrayList<>();
            int[] nodeIds = new int[pods];
            for (int p = 0; p < pods; p++) {
                nodeIds[p] = 100 + p;
                M2nNode node = M2nNode.start(NodeConfig.of(deployment, nodeIds[p], SECRET).withTransport(TransportKind.TCP));
                resources.add(node);
                addresses.add(node.address());
                Backend eb = new CpuBackend(1);
                resources.add(eb);
                int[] held = perPod.get(p).stream().mapToInt(Integer::intValue).toArray();
                ExpertWeights w = ExpertWeights.load(ckpt, eb, held);
                ExpertServer server = new ExpertServer(node, rows -> new ExpertStage(cfg, w, eb, rows), eb,
                        cfg.numLayers(), m, cfg.hiddenSize(), cfg.topK(), 16, Duration.ofSeconds(20));
                servers.add(server);
                Thread t = new Thread(() -> server.serve(), "expert-" + p);
                t.setDaemon(true);
                t.start();
                threads.add(t);
            }
            ExpertPlacement placement = new ExpertPlacement(perPod, cfg.numExperts());
            try (M2nExpertClient client = new M2nExpertClient(attentionNode, attentionBackend, placement,
                    addresses, nodeIds, cfg.hiddenSize(), cfg.topK(), 32, m, Duration.ofSeconds(20));
                 Engine engine = new Engine(ckpt, attentionBackend, options, client, m, StepTrace.NONE)) {
                List<GenerationResult> actual = engine.generate(prompts, SamplingParams.greedy(6, true), false);
                for (int i = 0; i < prompts.size(); i++) {
                    assertArrayEquals(expected.get(i).generatedIds(), actual.get(i).generatedIds(), "prompt " + i);
                    double d = 0;
                    for (int v = 0; v < cfg.vocabSize(); v++) {
                        d = Math.max(d, Math.abs(expected.get(i).lastLogits()[v] - actual.get(i).lastLogits()[v]));
                    }
                    assertTrue(d <= logitTolerance, "prompt " + i + " prefill logits differ by " + d);
                }
            } finally {
                servers.forEach(ExpertServer::stop);
                for (AutoCloseable c : resources) {
                    if (c instanceof M2nNode n) {
                        n.close(); // fails the servers' pending collects at once
                    }
                }
                for (Thread t : threads) {
                    t.join(10_000);
                    assertTrue(!t.isAlive(), t.getName() + " did not stop");
                }
                for (AutoCloseable c : resources) {
                    if (!(c instanceof M2nNode)) {
                        c.close();
                    }
                }
            }
        }
    }
}
