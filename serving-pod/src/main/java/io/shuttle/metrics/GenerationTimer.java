package io.shuttle.metrics;

/**
 * Times one generation for TTFT, time per output token and end-to-end latency. Called from the
 * thread that receives the request's tokens; not shared between requests.
 */
public final class GenerationTimer {
    private final ServingMetrics metrics;
    private final long arrivalNanos;
    private long lastTokenNanos;
    private boolean ended;

    GenerationTimer(ServingMetrics metrics, long arrivalNanos) {
        this.metrics = metrics;
        this.arrivalNanos = arrivalNanos;
    }

    /** A token was generated. */
    public void token() {
        long now = System.nanoTime();
        if (lastTokenNanos == 0) {
            metrics.ttft.observe((now - arrivalNanos) / 1e9);
        } else {
            metrics.tpot.observe((now - lastTokenNanos) / 1e9);
        }
        lastTokenNanos = now;
        metrics.generationTokens.inc();
    }

    /** The generation ended with {@code finishReason} (stop, length, abort, error); later calls are ignored. */
    public void end(String finishReason) {
        if (ended) {
            return;
        }
        ended = true;
        metrics.finished.labelValues(finishReason).inc();
        if (lastTokenNanos != 0) {
            metrics.e2e.observe((System.nanoTime() - arrivalNanos) / 1e9);
        }
    }
}
