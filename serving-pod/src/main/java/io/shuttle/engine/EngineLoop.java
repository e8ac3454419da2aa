package io.shuttle.engine;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Drives an {@link Engine} on its own thread for a server: requests are submitted from any
 * thread and complete through futures. In lockstep mode (the attention side of a
 * disaggregated deployment) the loop also runs empty steps while idle, at most one per
 * {@code idleTick}, because the expert pods gather every round from every attention pod.
 * A step that fails (an expert pod is gone) fails only the requests in it; the loop goes on,
 * pausing {@code retryPause} so a dead peer is not hammered.
 */
public final class EngineLoop implements AutoCloseable {
    private static final Logger LOG = System.getLogger(EngineLoop.class.getName());

    private final Engine engine;
    private final boolean lockstep;
    private final Duration idleTick;
    private final Duration retryPause;
    private final Thread thread;
    private final AtomicLong ids = new AtomicLong();
    private volatile boolean stopped;
    private volatile Throwable fatal;

    public EngineLoop(Engine engine, boolean lockstep, Duration idleTick, Duration retryPause) {
        this.engine = engine;
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
        CollectingListener listener = new CollectingListener(prompt, recordSteps);
        engine.scheduler().submit(new Request("req-" + ids.incrementAndGet(), prompt, params, listener));
        return listener.result();
    }

    /** Whether the loop is alive (readiness). */
    public boolean isRunning() {
        return thread.isAlive() && !stopped && fatal == null;
    }

    private void run() {
        Scheduler scheduler = engine.scheduler();
        while (!stopped) {
            try {
                if (!scheduler.hasWork()) {
                    scheduler.awaitWork(idleTick.toMillis());
                }
                engine.step(lockstep);
            } catch (ExpertUnavailableException e) {
                LOG.log(Level.WARNING, "step failed, its requests were ended: " + e.getMessage());
                sleep(retryPause);
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
