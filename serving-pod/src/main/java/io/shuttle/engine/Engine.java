package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.model.Checkpoint;
import io.shuttle.model.ModelConfig;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The monolithic engine: one process holding the attention stage and every expert. The
 * {@link Scheduler} does continuous batching; each {@link #step()} runs one forward pass over
 * the scheduled chunks (whole or chunked prompts, decode tokens) and samples.
 */
public final class Engine implements AutoCloseable {
    private final ModelConfig config;
    private final Backend backend;
    private final EngineOptions options;
    private final KvCache cache;
    private final ExpertStage experts;
    private final PipelineRunner runner;
    private final int lanes;
    private final BlockAllocator allocator;
    private final Sampler sampler;
    private final Scheduler scheduler;
    private final Arena arena = Arena.ofShared();
    /** Where a device backend's logits are copied for sampling; host backends are sampled in place (one row: unused). */
    private final MemorySegment hostLogits;
    private final AttentionWeights attentionWeights;

    /** The monolithic engine: attention and every expert in this process, on {@code backend}. */
    public Engine(Checkpoint checkpoint, Backend backend, EngineOptions options) {
        this(checkpoint, backend, options, null, 1, StepTrace.NONE);
    }

    /**
     * The attention side of the disaggregated pipeline: attention weights and the KV cache here,
     * the experts behind {@code experts}; each step is cut into {@code microBatches}.
     */
    public Engine(Checkpoint checkpoint, Backend backend, EngineOptions options, ExpertClient experts,
                  int microBatches, StepTrace trace) {
        this.config = checkpoint.config();
        this.backend = backend;
        this.options = options;
        this.attentionWeights = AttentionWeights.load(checkpoint, backend);
        this.cache = new KvCache(backend, config, options.kvBlocks(), options.blockSize());
        AttentionStage attention = new AttentionStage(config, attentionWeights, cache, backend);
        SchedulerConfig schedulerConfig = new SchedulerConfig(options.maxBatchTokens(), options.maxLogitRows(),
                options.maxWaiting(), microBatches, options.maxModelLen());
        this.lanes = microBatches;
        this.trace = trace;
        int laneTokens = Scheduler.laneTokens(schedulerConfig);
        int laneLogitRows = Scheduler.laneLogitRows(schedulerConfig);
        if (experts == null) {
            this.experts = new ExpertStage(config, ExpertWeights.loadAll(checkpoint, backend), backend, laneTokens);
            this.runner = new PipelineRunner(attention, new InlineExpertClient(this.experts), backend, options,
                    lanes, laneTokens, laneLogitRows, trace);
        } else {
            this.experts = null;
            this.runner = new PipelineRunner(attention, experts, backend, options, lanes, laneTokens, laneLogitRows,
                    trace);
        }
        this.expertClient = experts;
        this.allocator = new BlockAllocator(options.kvBlocks(), options.blockSize());
        this.sampler = new Sampler(config.vocabSize());
        this.scheduler = new Scheduler(schedulerConfig, allocator, config.vocabSize(), config.eosTokenId());
        this.plans = new StepPlan[lanes];
        long logitRows = backend instanceof io.shuttle.kernels.HostBackend ? 1 : options.maxLogitRows();
        this.hostLogits = arena.allocate(logitRows * config.vocabSize() * Float.BYTES, 64);
    }

    /**
     * Steps whose expert round fails are retried, their sequences kept, for up to
     * {@code budget} from the first failure in a row; after that the failing steps end their
     * requests. Zero (the default) ends them at once.
     */
    public Engine retryFailedSteps(java.time.Duration budget) {
        this.expertRetry = budget;
        return this;
    }

    private java.time.Duration expertRetry = java.time.Duration.ZERO;
    private volatile long stalledSince;

    private volatile long retriedSteps;

    /** Steps with requests that failed in their expert round and were kept for a retry. */
    public long retriedSteps() {
        return retriedSteps;
    }

    /** Since when (System.nanoTime) steps have been failing, 0 while they succeed. */
    public long stalledSince() {
        return stalledSince;
    }

    public ModelConfig config() {
        return config;
    }

    public AttentionWeights attentionWeights() {
        return attentionWeights;
    }

    /** The experts of a monolithic engine; null on the attention side of the pipeline. */
    public ExpertWeights expertWeights() {
        return experts == null ? null : experts.weights();
    }

    public BlockAllocator allocator() {
        return allocator;
    }

    public EngineOptions options() {
        return options;
    }

    PipelineRunner runner() {
        return runner;
    }

    ExpertStage expertStage() {
        return experts;
    }

    Backend backend() {
        return backend;
    }

    /** The scheduler: submit requests from any thread, then drive {@link #step()} on one thread. */
    public Scheduler scheduler() {
        return scheduler;
    }

    /**
     * Runs one scheduled step: forward pass, sampling, results to the requests' listeners.
     * Returns false when there was nothing to run.
     */
    public boolean step() {
        return step(false);
    }

    /**
     * Runs one step; with {@code evenIfEmpty} an empty step runs too (all micro-batches empty):
     * in a disaggregated deployment the attention pods advance in lockstep, so an idle pod still
     * takes part in every round. Returns false when nothing ran.
     *
     * <p>With several lanes and while there is work, each lane's next step begins as soon as the
     * lane is sampled (see
     * {@link PipelineRunner}): this call finishes step s and has already begun step s+1, which
     * the next call finishes. The pipeline drains (nothing begun) when the scheduler runs out of
     * work or the expert client wants a quiet step boundary (a routing change).
     */
    public boolean step(boolean evenIfEmpty) {
        if (!primed) {
            long step = nextStep;
            boolean any = false;
            for (int i = 0; i < lanes; i++) {
                plans[i] = scheduler.schedule(i, step);
                any |= !plans[i].isEmpty();
            }
            if (!any && !evenIfEmpty) {
                for (int i = 0; i < lanes; i++) {
                    scheduler.retryStep(plans[i]); // nothing ran; the plans are empty
                    plans[i] = null;
                }
                return false;
            }
            primed = true;
            try {
                for (int i = 0; i < lanes; i++) {
                    runner.begin(plans[i]);
                }
            } catch (RuntimeException e) {
                throw failed(e);
            }
        }
        long step = plans[0].step();
        try {
            runner.middle(step);
            boolean next = false;
            for (int i = 0; i < lanes; i++) {
                MemorySegment logits = runner.finish(i, hostLogits);
                int rows = runner.logitRows(i);
                StepPlan done = plans[i];
                plans[i] = null;
                long t0 = trace.now();
                sampleAndApply(done, logits, rows);
                trace.boundary(StepTrace.Boundary.SAMPLE, step, i, t0);
                if (i == 0) {
                    // With one lane there is nothing to overlap: its next step needs its own samples.
                    next = lanes > 1 && scheduler.hasWork()
                            && (expertClient == null || !expertClient.wantsQuietStepBoundary());
                }
                if (next) {
                    long t1 = trace.now();
                    plans[i] = scheduler.schedule(i, step + 1);
                    trace.boundary(StepTrace.Boundary.SCHEDULE, step + 1, i, t1);
                    runner.begin(plans[i]);
                }
            }
            primed = next;
            nextStep = step + 1;
        } catch (RuntimeException e) {
            throw failed(e);
        }
        stalledSince = 0;
        return true;
    }

    private final StepPlan[] plans;
    private final StepTrace trace;
    private final ExpertClient expertClient;
    private boolean primed;
    private long nextStep;

    /**
     * A step failed: the rest of its rounds go to the experts empty, and every lane's step not
     * yet applied is retried (an expert outage within the retry budget: the requests wait) or
     * failed. Returns the exception to throw.
     */
    private RuntimeException failed(RuntimeException e) {
        nextStep = runner.abandon() + 1;
        primed = false;
        boolean any = false;
        for (StepPlan p : plans) {
            any |= p != null && !p.isEmpty();
        }
        long now = System.nanoTime();
        if (e instanceof ExpertUnavailableException && any && stalledSince == 0) {
            stalledSince = now; // the clock runs while requests wait, not while idle
        }
        boolean retry = e instanceof ExpertUnavailableException && (!any || now - stalledSince < expertRetry.toNanos());
        int sequences = 0;
        for (int i = 0; i < lanes; i++) {
            StepPlan p = plans[i];
            plans[i] = null;
            if (p == null) {
                continue;
            }
            sequences += p.chunks().size();
            if (retry) {
                scheduler.retryStep(p); // the requests wait; the loop tries again after a pause
            } else {
                scheduler.failStep(p, e);
            }
        }
        if (retry) {
            if (any) {
                retriedSteps++;
            }
            return new ExpertUnavailableException(e.getMessage() + " (the step's " + sequences
                    + " sequences wait and are retried for up to " + expertRetry.toSeconds() + " s)", e, true);
        }
        return e;
    }

    /** Samples a lane's logits rows and applies the results: tokens to the requests, finished ones freed. */
    private void sampleAndApply(StepPlan plan, MemorySegment logits, int rows) {
        int[] sampled = new int[rows];
        for (StepPlan.Chunk c : plan.chunks()) {
            if (c.logitsRow() < 0) {
                continue;
            }
            Sequence s = c.sequence();
            RequestListener listener = s.request().listener();
            if (listener.wantsLogits()) {
                listener.onLogits(copyRow(logits, c.logitsRow()));
            }
            sampled[c.logitsRow()] = sampler.sample(logits, c.logitsRow(), s.request().params(), s.random);
        }
        scheduler.update(plan, sampled);
    }

    /**
     * Generates for every prompt, all in one batch (continuous batching admits them as KV blocks
     * allow). Prompt i samples with seed {@code params.seed() + i}. With {@code recordStepLogits}
     * the full logits of every step are kept (memory: steps × vocab floats per prompt).
     */
    public List<GenerationResult> generate(List<int[]> prompts, SamplingParams params, boolean recordStepLogits) {
        List<CollectingListener> listeners = new ArrayList<>();
        List<Request> requests = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            SamplingParams p = params.withSeed(params.seed() + i);
            // Validate everything before running anything, so a bad prompt fails the call cleanly.
            validateStandalone(i, prompts.get(i), p);
            CollectingListener listener = new CollectingListener(prompts.get(i), recordStepLogits);
            listeners.add(listener);
            requests.add(new Request("generate-" + i, prompts.get(i), p, listener));
        }
        int next = 0;
        while (next < requests.size() || scheduler.hasWork()) {
            while (next < requests.size()) {
                try {
                    scheduler.submit(requests.get(next));
                    next++;
                } catch (Scheduler.QueueFullException full) {
                    break; // run steps until the queue has room
                }
            }
            if (!step() && next >= requests.size() && scheduler.hasWork()) {
                throw new IllegalStateException("the engine cannot make progress: the KV cache ("
                        + allocator.totalBlocks() + " blocks) cannot hold a waiting sequence");
            }
        }
        List<GenerationResult> results = new ArrayList<>(listeners.size());
        for (int i = 0; i < listeners.size(); i++) {
            try {
                results.add(listeners.get(i).result().getNow(null));
            } catch (java.util.concurrent.CompletionException e) {
                throw new IllegalStateException("prompt " + i + " failed: " + e.getCause().getMessage(), e.getCause());
            }
        }
        return results;
    }

    private void validateStandalone(int i, int[] prompt, SamplingParams params) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("prompt " + i + " is empty; give at least one token");
        }
        for (int t : prompt) {
            if (t < 0 || t >= config.vocabSize()) {
                throw new IllegalArgumentException("prompt " + i + " has token id " + t
                        + ", outside the vocabulary 0.." + (config.vocabSize() - 1));
            }
        }
        if (prompt.length + params.maxTokens() > options.maxModelLen()) {
            throw new IllegalArgumentException("prompt " + i + " has " + prompt.length + " tokens; with "
                    + params.maxTokens() + " new tokens it exceeds the maximum sequence length "
                    + options.maxModelLen() + "; shorten the prompt or lower max tokens");
        }
    }

    private float[] copyRow(MemorySegment logits, int row) {
        float[] out = new float[config.vocabSize()];
        MemorySegment.copy(logits, ValueLayout.JAVA_FLOAT, (long) row * config.vocabSize() * Float.BYTES,
                out, 0, out.length);
        return out;
    }

    /** Indices of the {@code n} largest values, descending (ties to the lower index). */
    public static int[] topIndices(float[] values, int n) {
        // One pass with an insertion-sorted top list: O(V·n) for the handful the API asks for,
        // where sorting boxed indices of a whole vocabulary cost ~1 ms per sequence.
        int[] out = new int[Math.max(0, Math.min(n, values.length))];
        int size = 0;
        for (int i = 0; i < values.length && out.length > 0; i++) {
            float v = values[i];
            if (size == out.length && !ranksBefore(v, i, values[out[size - 1]], out[size - 1])) {
                continue;
            }
            int j = size < out.length ? size++ : size - 1;
            while (j > 0 && ranksBefore(v, i, values[out[j - 1]], out[j - 1])) {
                out[j] = out[j - 1];
                j--;
            }
            out[j] = i;
        }
        return out;
    }

    /** Descending by value, equal values (0.0 and -0.0 too) to the lower index; NaN first, as Float.compare orders it. */
    private static boolean ranksBefore(float v, int i, float w, int j) {
        int c = v == w ? 0 : Float.compare(w, v);
        return c != 0 ? c < 0 : i < j;
    }

    @Override
    public void close() {
        runner.close();
        if (experts != null) {
            experts.close();
        }
        cache.close();
        arena.close();
    }
}
