package io.shuttle.serve;

import io.shuttle.engine.ExpertStage;
import io.shuttle.engine.ExpertWeights;
import io.shuttle.kernels.Backend;
import io.shuttle.m2n.M2nNode;
import io.shuttle.metrics.ServingMetrics;
import io.shuttle.model.Checkpoint;
import io.shuttle.model.ModelConfig;
import io.shuttle.pipeline.ExpertServer;
import io.shuttle.plan.PlanReader;
import io.shuttle.plan.ServingPlan;

import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An expert pod: only its own experts' weights (for every layer) are mapped from the
 * checkpoint; it serves the attention pods' rounds through an {@link ExpertServer}.
 */
public final class ExpertPod implements AutoCloseable {
    private final Checkpoint checkpoint;
    private final Backend backend;
    private final M2nNode node;
    private final ExpertServer server;
    private final Thread serving;
    private final int[] held;
    private final Duration roundTimeout;
    private final ChromeTrace trace;

    /** Loads this pod's experts, joins the M2N mesh and starts serving rounds; Quarkus serves its health and metrics. */
    public ExpertPod(PodSettings s, ServingMetrics metrics) throws IOException {
        checkpoint = Checkpoint.open(s.model());
        ModelConfig cfg = checkpoint.config();
        ServingPlan plan = PlanReader.read(s.plan(), cfg.numExperts());
        if (s.ordinal() >= plan.experts().replicas()) {
            throw new IllegalArgumentException("expert ordinal " + s.ordinal() + " is outside the plan's "
                    + plan.experts().replicas() + " expert pods");
        }
        ServingPlan.Pipeline p = plan.pipeline();
        roundTimeout = Duration.ofMillis(p.roundTimeoutMillis());
        held = plan.experts().placement().get(s.ordinal()).stream().mapToInt(Integer::intValue).toArray();
        backend = io.shuttle.kernels.Backends.create(s.device(), s.threads());
        ExpertWeights weights = ExpertWeights.load(checkpoint, backend, held);
        checkpoint.prefault(io.shuttle.model.ProgressListener.none());
        // Sized for the plan's attention pods at first; the server grows its buffers when more join.
        int initialRows = p.maxBatchTokens() * plan.attention().replicas();
        ExpertWeights held = weights;
        node = M2nNode.start(s.nodeConfig(PodSettings.deploymentId(plan.deployment()), PodSettings.expertNodeId(s.ordinal()),
                Addresses.bind(s.bindHost(), plan.experts().pool().address(s.ordinal()))));
        server = new ExpertServer(node, rows -> new ExpertStage(cfg, held, backend, rows), backend, cfg.numLayers(),
                p.microBatches(), cfg.hiddenSize(), cfg.topK(), initialRows, Duration.ofMillis(p.roundTimeoutMillis()));
        trace = s.traceFile() == null ? null : new ChromeTrace(s.traceFile(), "expert-" + s.ordinal(), 200_000);
        server.trace(metrics.expertRounds(trace == null ? io.shuttle.pipeline.RoundTrace.NONE : trace));
        metrics.counter("shuttle_m2n_bytes_total", "M2N payload bytes sent and received", "direction",
                new String[] {"sent", "received"},
                new java.util.function.DoubleSupplier[] {node::bytesSent, node::bytesReceived});
        metrics.gauge("shuttle_expert_attention_pods", "Attention pods whose rounds this expert pod serves now",
                () -> server.members().size());
        metrics.counter("shuttle_expert_membership_changes_total",
                "Attention pods admitted to (join) or dropped from (drop) this expert pod's rounds", "change",
                new String[] {"join", "drop"}, new java.util.function.DoubleSupplier[] {
                        () -> ((Number) server.stats().get("joins")).doubleValue(),
                        () -> ((Number) server.stats().get("drops")).doubleValue()});
        metrics.counter("shuttle_expert_refused_messages_total",
                "Messages refused because they routed rows to experts this pod does not hold (a placement change)",
                "role", new String[] {"expert"}, new java.util.function.DoubleSupplier[] {
                        () -> ((Number) server.stats().get("refused_messages")).doubleValue()});
        serving = new Thread(() -> server.serve(), "expert-server");
        serving.setDaemon(true);
        serving.start();
    }

    public boolean live() {
        return serving.isAlive() && node.isRunning();
    }

    /**
     * Ready when the serving thread runs and either no attention pod takes part yet (a fresh
     * pool, or one whose attention pods all left) or a round was served in the last
     * {@code within} plus the round timeout.
     */
    public boolean ready(Duration within) {
        long last = server.lastRoundNanos();
        return serving.isAlive() && (server.members().isEmpty()
                || last != 0 && System.nanoTime() - last < within.toNanos() + roundTimeout.toNanos());
    }

    public Map<String, Object> stats() {
        return server.stats();
    }

    public Map<String, Object> health() {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("role", "expert");
        h.put("status", serving.isAlive() ? "ready" : "failed");
        h.put("experts", Arrays.stream(held).boxed().toList());
        h.put("mapped_bytes", checkpoint.mappedBytes());
        h.put("checkpoint_bytes", checkpoint.totalBytes());
        h.put("m2n", node.address().toString());
        h.put("transport", node.transportName());
        h.put("rounds_served", server.roundsServed());
        h.put("attention_nodes", server.members().stream().sorted().toList());
        return h;
    }

    @Override
    public void close() {
        server.stop();
        node.close();
        try {
            serving.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        server.close();
        if (trace != null) {
            trace.close();
        }
        backend.close();
        checkpoint.close();
    }
}
