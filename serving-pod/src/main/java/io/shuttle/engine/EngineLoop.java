package io.shuttle.engine;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Drives an {@link Engine} on its own thread for a server: requests are submitted from any
 * thread and complete through futures. In lockstep mode (the attention side of a
 * disaggregated deployment) the loop also runs empty steps while idle, because the expert pods
 * gather every round from every attention pod: at once while other pods are busy, with a
 * growing pause (up to {@code idleTick}) while the whole deployment is idle.
 * A step whose expert round fails (an expert pod is gone or restarting) is retried after
 * {@code retryPause}, its requests waiting, for as long as the engine's retry budget allows
 * ({@link Engine#retryFailedSteps}); after that the failing steps end their requests.
 */
public final class EngineLoop implements AutoCloseable {
    private static final Logger LOG = System.getLogger(EngineLoop.class.getName());

    private final Engine engine;
    private final boolean lockstep;
    private final Duration idleTick;
    private final java.util.function.BooleanSupplier othersBusy;
    private final Duration retryPause;
    private final Thread thread;
    private final AtomicLong ids = new AtomicLong();
    private volatile boolean stopped;
    private volatile Throwable fatal;

    public EngineLoop(Engine engine, boolean lockstep, Duration idleTick, Duration retryPause) {
        this(engine, lockstep, idleTick, retryPause, () -> false);
    }

    /**
     * @param othersBusy in lockstep mode, whether other attention pods had work in the last round:
     *                   then an idle pod steps again at once; otherwise it backs off from 1 ms up to
     *                   {@code idleTick} between empty steps, so an idle deployment costs almost nothing
     */
    public EngineLoop(Engine engine, boolean lockstep, Duration idleTick, Duration retryPause,
                      java.util.function.BooleanSupplier othersBusy) {
        this.engine = engine;
        this.othersBusy = othersBusy;
        this.lockstep = lockstep;
        this.idleTick = idleTick;
        this.retryPause = retryPause;
        this.thread = new Thread(this::run, "engine-loop");
        this.thread.setDaemon(true);
    }

    public EngineLoop start() {
        thread.start();
        return this;
    }

    /**
     * Queues a prompt. The future completes with the result, or fails with the request's error;
     * bad input and a full queue throw at once.
     */
    public CompletableFuture<GenerationResult> submit(int[] prompt, SamplingParams params, boolean recordSteps) {
        if (stopped) {
            throw new IllegalStateException("the engine is shutting down");
        }
        Pending p = pending(prompt, params, recordSteps);
        engine.scheduler().submit(p.request());
        return p.result();
    }

    /** A request whose result completes {@code result}; a caller that cancels it (gives up) aborts the request. */
    private record Pending(Request request, CompletableFuture<GenerationResult> result) {
    }

    private Pending pending(int[] prompt, SamplingParams params, boolean recordSteps) {
        CollectingListener listener = new CollectingListener(prompt, recordSteps);
        String id = "req-" + ids.incrementAndGet();
        CompletableFuture<GenerationResult> result = listener.result();
        // A caller that gives up (cancel) frees the sequence's batch slot and KV blocks at the next step.
        result.whenComplete((r, error) -> {
            if (error instanceof java.util.concurrent.CancellationException) {
                engine.scheduler().abort(id);
            }
        });
        return new Pending(new Request(id, prompt, params, listener), result);
    }

    /**
     * Queues prompts that join the batch at the same step boundary (see {@link Scheduler#submitAll}),
     * one future per prompt, in order; bad input and a full queue throw at once and queue nothing.
     */
    public List<CompletableFuture<GenerationResult>> submitAll(List<int[]> prompts, List<SamplingParams> params,
                                                              boolean recordSteps) {
        if (stopped) {
            throw new IllegalStateException("the engine is shutting down");
        }
        if (prompts.size() != params.size()) {
            throw new IllegalArgumentException(prompts.size() + " prompts but " + params.size() + " sampling settings");
        }
        List<Request> requests = new ArrayList<>(prompts.size());
        List<CompletableFuture<GenerationResult>> results = new ArrayList<>(prompts.size());
        for (int i = 0; i < prompts.size(); i++) {
            Pending p = pending(prompts.get(i), params.get(i), recordSteps);
            requests.add(p.request());
            results.add(p.result());
        }
        engine.scheduler().submitAll(requests);
        return results;
    }

    /**
     * Queues a prompt whose output goes to {@code listener} as it is generated (streaming).
     * Returns the request id for {@link #abort}; bad input and a full queue throw at once.
     */
    public String submit(int[] prompt, SamplingParams params, RequestListener listener) {
        if (stopped) {
            throw new IllegalStateException("the engine is shutting down");
        }
        String id = "req-" + ids.incrementAndGet();
        engine.scheduler().submit(new Request(id, prompt, params, listener));
        return id;
    }

    /** Ends a request at the next step boundary (a client went away, a stop string matched); its KV blocks are freed. */
    public void abort(String requestId) {
        engine.scheduler().abort(requestId);
    }

    /** Whether the loop is alive (readiness). */
    public boolean isRunning() {
        return thread.isAlive() && !stopped && fatal == null;
    }

    private void run() {
        Scheduler scheduler = engine.scheduler();
        long backoffMillis = 1;
        long failures = 0;
        while (!stopped) {
            try {
                if (scheduler.hasWork()) {
                    backoffMillis = 1;
                } else if (!(lockstep && othersBusy.getAsBoolean())) {
                    scheduler.awaitWork(lockstep ? backoffMillis : idleTick.toMillis());
                    backoffMillis = Math.min(backoffMillis * 2, Math.max(1, idleTick.toMillis()));
                }
                if (!lockstep && !scheduler.hasWork()) {
                    continue;
                }
                engine.step(lockstep);
                if (failures > 0) {
                    LOG.log(Level.INFO, "steps succeed again after " + failures + " failed attempts");
                    failures = 0;
                }
            } catch (ExpertUnavailableException e) {
                failures++;
                if (!e.retried()) {
                    LOG.log(Level.WARNING, "step failed, its requests were ended: " + e.getMessage());
                } else if (failures <= 3 || failures % 50 == 0) { // an outage retries many times; log a few
                    LOG.log(Level.WARNING, "step failed (" + failures + " in a row): " + e.getMessage());
                }
                sleep(retryPause);
                continue;
            } catch (InterruptedException e) {
                break;
            } catch (RuntimeException | Error e) {
                fatal = e;
                LOG.log(Level.ERROR, "engine loop stopped", e);
                scheduler.failAll(new IllegalStateException("the engine failed: " + e, e));
                break;
            }
        }
        scheduler.failAll(new IllegalStateException("the engine is shutting down"));
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        stopped = true;
        thread.interrupt();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
