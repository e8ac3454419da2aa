package io.shuttle.serve;

import io.shuttle.engine.Engine;
import io.shuttle.engine.EngineLoop;
import io.shuttle.engine.EngineOptions;
import io.shuttle.engine.StepTrace;
import io.shuttle.kernels.Backend;
import io.shuttle.m2n.M2nNode;
import io.shuttle.metrics.ServingMetrics;
import io.shuttle.model.Checkpoint;
import io.shuttle.model.ModelConfig;
import io.shuttle.pipeline.ExpertPlacement;
import io.shuttle.pipeline.M2nExpertClient;
import io.shuttle.plan.PlanReader;
import io.shuttle.plan.ServingPlan;
import io.shuttle.tokenizer.Tokenizer;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An attention pod: embeddings, attention, router, final norm, lm_head and the paged KV cache;
 * the continuous-batching scheduler and the ping-pong pipeline, whose expert halves go to the
 * expert pods over M2N.
 */
public final class AttentionPod implements AutoCloseable {
    private final Checkpoint checkpoint;
    private final Tokenizer tokenizer;
    private final Backend backend;
    private final M2nNode node;
    private final M2nExpertClient client;
    private final Engine engine;
    private final EngineLoop loop;
    private final ChromeTrace trace;
    private final io.shuttle.engine.PipelineStats stats;
    private final String modelName;
    private final Duration roundTimeout;
    private final int maxModelLen;

    /**
     * Loads the pod's half of the model, joins the M2N mesh and starts the engine loop. Its HTTP
     * side (the OpenAI API, health, metrics) is served by Quarkus around it ({@code io.shuttle.api}).
     */
    public AttentionPod(PodSettings s, ServingMetrics metrics) throws IOException {
        checkpoint = Checkpoint.open(s.model());
        ModelConfig cfg = checkpoint.config();
        // Watching starts before the first read, so a change in between is not missed.
        planWatcher = new io.shuttle.plan.PlanWatcher(s.plan(), cfg.numExperts(), Duration.ofSeconds(2), this::planChanged);
        ServingPlan plan = PlanReader.read(s.plan(), cfg.numExperts());
        runningPlan = plan;
        // With an address pattern any ordinal has an address: an autoscaler may start a pod before
        // the operator has rewritten the plan, and expert pods learn their senders from the links.
        if (s.ordinal() >= plan.attention().replicas() && plan.attention().addressPattern() == null) {
            throw new IllegalArgumentException("attention ordinal " + s.ordinal() + " is outside the plan's "
                    + plan.attention().replicas() + " attention pods");
        }
        ServingPlan.Pipeline p = plan.pipeline();
        tokenizer = Tokenizer.load(s.model());
        backend = io.shuttle.kernels.Backends.create(s.device(), s.threads());
        roundTimeout = Duration.ofMillis(p.roundTimeoutMillis());
        node = M2nNode.start(s.nodeConfig(PodSettings.deploymentId(plan.deployment()), PodSettings.attentionNodeId(s.ordinal()),
                Addresses.bind(s.bindHost(), plan.attention().address(s.ordinal()))));
        M2nExpertClient.Routing routing = routing(plan, cfg.numExperts());
        client = new M2nExpertClient(node, backend, routing.placement(), routing.addresses(), routing.nodeIds(),
                cfg.hiddenSize(), cfg.topK(), p.maxBatchTokens(), p.microBatches(), roundTimeout);
        EngineOptions options = new EngineOptions(p.maxBatchTokens(), p.maxRunning(), p.kvBlocks(), p.kvBlockSize(),
                Math.min(p.maxModelLen(), cfg.maxPositionEmbeddings()), p.maxWaiting());
        trace = s.traceFile() == null ? null : new ChromeTrace(s.traceFile(), "attention-" + s.ordinal(), 200_000);
        stats = new io.shuttle.engine.PipelineStats(trace == null ? StepTrace.NONE : trace);
        engine = new Engine(checkpoint, backend, options, client, p.microBatches(), metrics.pipeline(stats))
                .retryFailedSteps(s.expertRetry());
        modelName = s.servedModelName();
        maxModelLen = options.maxModelLen();
        checkpoint.prefault(io.shuttle.model.ProgressListener.none());
        loop = new EngineLoop(engine, true, Duration.ofMillis(50), Duration.ofMillis(200), client::othersBusy).start();
        registerMetrics(metrics);
        planWatcher.start();
        warmup = new PodWarmup(loop, options, cfg.vocabSize(), s.warmup(), client::lastRoundNanos).start();
    }

    private final PodWarmup warmup;

    /** The warm-up that readiness waits for ({@link PodWarmup}). */
    public PodWarmup warmup() {
        return warmup;
    }

    private static M2nExpertClient.Routing routing(ServingPlan plan, int numExperts) {
        ExpertPlacement placement = new ExpertPlacement(plan.experts().placement(), numExperts);
        List<InetSocketAddress> addresses = new ArrayList<>();
        int[] nodeIds = new int[plan.experts().replicas()];
        for (int e = 0; e < nodeIds.length; e++) {
            addresses.add(Addresses.parse(plan.experts().pool().address(e)));
            nodeIds[e] = PodSettings.expertNodeId(e);
        }
        return new M2nExpertClient.Routing(placement, addresses, nodeIds);
    }

    /**
     * A new version of the plan file: a changed expert pool (pods, addresses, placement) is
     * used from the next step on; the attention pool's size needs nothing here (expert pods learn
     * who sends). What only a restart can apply (the pipeline's sizes, the deployment) is
     * reported and left: the operator rolls the pods for such changes.
     */
    private void planChanged(ServingPlan next) {
        ServingPlan now = runningPlan;
        if (!next.deployment().equals(now.deployment()) || !next.pipeline().equals(now.pipeline())) {
            System.getLogger(AttentionPod.class.getName()).log(System.Logger.Level.WARNING,
                    "the plan's deployment or pipeline settings changed; they apply when this pod restarts");
        }
        if (!next.experts().equals(now.experts())) {
            client.reroute(routing(next, checkpoint.config().numExperts()));
            System.getLogger(AttentionPod.class.getName()).log(System.Logger.Level.INFO,
                    "new expert pool from the plan file: " + next.experts().replicas() + " pods, placement "
                            + next.experts().placement() + "; used from the next step");
        }
        runningPlan = next;
        planReloads.incrementAndGet();
    }

    private final io.shuttle.plan.PlanWatcher planWatcher;
    private volatile ServingPlan runningPlan;
    private final java.util.concurrent.atomic.AtomicLong planReloads = new java.util.concurrent.atomic.AtomicLong();

    private void registerMetrics(ServingMetrics metrics) {
        metrics.counter("shuttle_step_retries_total",
                "Steps whose expert round failed and that were run again with their requests kept", "role",
                new String[] {"attention"}, new java.util.function.DoubleSupplier[] {() -> engine.retriedSteps()});
        metrics.gauge("shuttle_stalled_seconds", "How long steps with requests have been failing in a row (0 while they succeed)",
                () -> engine.stalledSince() == 0 ? 0 : (System.nanoTime() - engine.stalledSince()) / 1e9);
        metrics.counter("shuttle_plan_reloads_total", "New versions of the plan file taken while running", "role",
                new String[] {"attention"}, new java.util.function.DoubleSupplier[] {planReloads::get});
        metrics.counter("shuttle_lane_moves_total",
                "Running sequences moved to another micro-batch to keep the micro-batches even", "role",
                new String[] {"attention"}, new java.util.function.DoubleSupplier[] {() -> engine.scheduler().laneMoves()});
        metrics.gauge("shuttle_requests_running", "Sequences in the running batch", () -> engine.scheduler().runningCount());
        metrics.gauge("shuttle_requests_waiting", "Requests queued for admission", () -> engine.scheduler().waitingCount());
        metrics.gauge("shuttle_kv_cache_usage_ratio", "Share of KV-cache blocks in use (0 to 1)", () -> {
            double total = engine.allocator().totalBlocks();
            return total == 0 ? 0 : (total - engine.allocator().freeBlocks()) / total;
        });
        metrics.counter("shuttle_m2n_bytes_total", "M2N payload bytes sent and received", "direction",
                new String[] {"sent", "received"},
                new java.util.function.DoubleSupplier[] {node::bytesSent, node::bytesReceived});
    }

    /** The engine loop requests go to. */
    public EngineLoop loop() {
        return loop;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** The model name clients use ({@code /v1/models}). */
    public String modelName() {
        return modelName;
    }

    /** The longest prompt + generation a request may have, in tokens. */
    public int maxModelLen() {
        return maxModelLen;
    }

    /** The model folder (chat template, generation defaults). */
    public java.nio.file.Path modelDir() {
        return checkpoint.directory();
    }

    /**
     * Ready when the engine loop runs, the warm-up has ended, the latest round did not fail, and a round came back from
     * every expert pod of the plan in the last {@code within} plus the round timeout (the loop
     * runs empty rounds while idle, so this tracks the peers).
     */
    public boolean ready(Duration within) {
        // A failed round resets lastRoundNanos at once; a slow one (a starved CPU) only counts
        // against readiness once it could have timed out, so load does not flap readiness.
        long last = client.lastRoundNanos();
        return loop.isRunning() && warmup.finished() && last != 0
                && System.nanoTime() - last < within.toNanos() + roundTimeout.toNanos();
    }

    public boolean live() {
        return loop.isRunning() && node.isRunning();
    }

    /** Requests admitted and not yet finished (running or waiting). */
    public int inFlight() {
        return engine.scheduler().runningCount() + engine.scheduler().waitingCount();
    }

    public Map<String, Object> stats() {
        return stats.snapshot();
    }

    public Map<String, Object> health() {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("role", "attention");
        h.put("status", !loop.isRunning() ? "failed" : warmup.finished() ? "ready" : "warming up");
        h.put("warm_up", warmup.outcome().name().toLowerCase(java.util.Locale.ROOT));
        h.put("m2n", node.address().toString());
        h.put("transport", node.transportName());
        h.put("running", engine.scheduler().runningCount());
        h.put("waiting", engine.scheduler().waitingCount());
        h.put("kv_blocks_free", engine.allocator().freeBlocks());
        h.put("kv_blocks_total", engine.allocator().totalBlocks());
        h.put("expert_pods", runningPlan.experts().replicas());
        h.put("plan_reloads", planReloads.get());
        return h;
    }

    @Override
    public void close() {
        planWatcher.close();
        loop.close();
        if (trace != null) {
            trace.close(); // first: nothing records after the loop, and a slow shutdown below must not lose it
        }
        engine.close();
        client.close();
        node.close();
        backend.close();
        tokenizer.close();
        checkpoint.close();
    }
}
