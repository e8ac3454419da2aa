package io.shuttle.engine;

import io.shuttle.kernels.Tensor;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * An {@link ExpertClient} whose expert stage runs in this process on its own thread, so the
 * attention thread and the expert thread overlap as two pods would: dispatch queues the expert
 * computation, awaitCombine waits for it. Give the expert stage its own backend (a backend
 * runs one operation at a time), as an expert pod has its own cores.
 */
public final class LocalExpertClient implements ExpertClient {
    private final ExpertStage experts;
    private final Duration timeout;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "local-experts");
        t.setDaemon(true);
        return t;
    });
    private final Map<Long, Future<?>> inFlight = new ConcurrentHashMap<>();

    public LocalExpertClient(ExpertStage experts, Duration timeout) {
        this.experts = experts;
        this.timeout = timeout;
    }

    @Override
    public void dispatch(long step, int layer, int microBatch, Tensor x, Tensor ids, Tensor weights, Tensor out) {
        Future<?> previous = inFlight.put(key(layer, microBatch),
                thread.submit(() -> experts.forward(layer, x, ids, weights, out)));
        if (previous != null) {
            throw new IllegalStateException("round layer " + layer + ", micro-batch " + microBatch
                    + " dispatched twice without awaitCombine");
        }
    }

    @Override
    public void awaitCombine(long step, int layer, int microBatch) {
        Future<?> f = inFlight.remove(key(layer, microBatch));
        if (f == null) {
            throw new IllegalStateException("no round in flight for layer " + layer + ", micro-batch " + microBatch);
        }
        try {
            f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new ExpertUnavailableException("local experts did not finish step " + step + " layer " + layer
                    + " micro-batch " + microBatch + " within " + timeout, e);
        } catch (ExecutionException e) {
            throw new ExpertUnavailableException("local experts failed: " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ExpertUnavailableException("interrupted while waiting for the experts", e);
        }
    }

    private static long key(int layer, int microBatch) {
        return ((long) layer << 32) | microBatch;
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }
}
