package io.shuttle.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.DoubleSupplier;

/**
 * Every Prometheus metric a serving pod exports, in one private registry (docs/METRICS.md lists
 * them with their vLLM counterparts). Request-level metrics are observed by the HTTP layer;
 * pipeline metrics by {@link PipelineMetrics} (attention pods) and {@link ExpertRoundMetrics}
 * (expert pods); state that already lives elsewhere (queue lengths, KV usage, M2N bytes) is read
 * at scrape time through callbacks, so the hot paths pay nothing for it.
 */
public final class ServingMetrics {

    /** Latency buckets from 1 ms to 2 min: TTFT and end-to-end latency of CPU and GPU pods alike. */
    private static final double[] REQUEST_BUCKETS = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
            0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 120};
    /** Per-token and per-round buckets, 10 µs to 5 s. */
    private static final double[] STEP_BUCKETS = {0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
            0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5};

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    final Counter requests = Counter.builder().name("shuttle_requests_total")
            .help("HTTP API requests by endpoint and status code").labelNames("endpoint", "status").register(registry);
    final Counter finished = Counter.builder().name("shuttle_request_finished_total")
            .help("Generations that ended, by finish reason (stop, length, abort, error)").labelNames("finish_reason")
            .register(registry);
    final Counter promptTokens = Counter.builder().name("shuttle_prompt_tokens_total")
            .help("Prompt tokens of admitted requests").register(registry);
    final Counter generationTokens = Counter.builder().name("shuttle_generation_tokens_total")
            .help("Tokens generated").register(registry);
    final Histogram ttft = Histogram.builder().name("shuttle_time_to_first_token_seconds")
            .help("Time from request arrival to its first generated token").unit(Unit.SECONDS)
            .classicOnly().classicUpperBounds(REQUEST_BUCKETS).register(registry);
    final Histogram tpot = Histogram.builder().name("shuttle_time_per_output_token_seconds")
            .help("Time between consecutive generated tokens of a request").unit(Unit.SECONDS)
            .classicOnly().classicUpperBounds(STEP_BUCKETS).register(registry);
    final Histogram e2e = Histogram.builder().name("shuttle_e2e_request_latency_seconds")
            .help("Time from request arrival to its last token").unit(Unit.SECONDS)
            .classicOnly().classicUpperBounds(REQUEST_BUCKETS).register(registry);

    // The disaggregation's own signals (PAPER.md: T_a, T_e, T_c).
    final Histogram attention = Histogram.builder().name("shuttle_attention_seconds")
            .help("T_a: attention-side compute of one micro-batch in one layer (attention pods)").unit(Unit.SECONDS)
            .classicOnly().classicUpperBounds(STEP_BUCKETS).register(registry);
    final Histogram expert = Histogram.builder().name("shuttle_expert_seconds")
            .help("T_e: grouped expert FFN of one round, all attention pods' tokens (expert pods)").unit(Unit.SECONDS)
            .classicOnly().classicUpperBounds(STEP_BUCKETS).register(registry);
    final Histogram communication = Histogram.builder().name("shuttle_communication_seconds")
            .help("T_c parts: dispatch (attention pods: route, pack, post) and combine (expert pods: post until sent)")
            .unit(Unit.SECONDS).labelNames("phase").classicOnly().classicUpperBounds(STEP_BUCKETS).register(registry);
    final Histogram round = Histogram.builder().name("shuttle_m2n_round_seconds")
            .help("Attention pods: from a micro-batch's dispatch to its combined result (T_c + T_e + queueing)")
            .unit(Unit.SECONDS).classicOnly().classicUpperBounds(STEP_BUCKETS).register(registry);
    final Histogram stall = Histogram.builder().name("shuttle_expert_wait_seconds")
            .help("Attention pods: time the attention thread waited for a combine (a pipeline bubble)")
            .unit(Unit.SECONDS).classicOnly().classicUpperBounds(STEP_BUCKETS).register(registry);
    final Counter expertTokens = Counter.builder().name("shuttle_expert_tokens_total")
            .help("Token rows routed to each expert (expert pods; load balancing)").labelNames("expert")
            .register(registry);
    final Counter missingSenderRounds = Counter.builder().name("shuttle_m2n_missing_sender_rounds_total")
            .help("Rounds that closed without every sender: timed out (expert pods) or failed (attention pods)")
            .register(registry);
    final BubbleWindow bubbles = new BubbleWindow(10_000_000_000L);

    public ServingMetrics() {
        GaugeWithCallback.builder().name("shuttle_pipeline_bubble_ratio")
                .help("Attention pods: share of the last ~10 s the attention thread spent waiting for experts")
                .callback(cb -> cb.call(bubbles.ratio())).register(registry);
    }

    /** A gauge read at scrape time (queue lengths, KV usage). */
    public void gauge(String name, String help, DoubleSupplier value) {
        GaugeWithCallback.builder().name(name).help(help).callback(cb -> cb.call(value.getAsDouble())).register(registry);
    }

    /** A counter read at scrape time from a running total kept elsewhere; one label. */
    public void counter(String name, String help, String label, String[] labelValues, DoubleSupplier[] values) {
        CounterWithCallback.builder().name(name).help(help).labelNames(label).callback(cb -> {
            for (int i = 0; i < labelValues.length; i++) {
                cb.call(values[i].getAsDouble(), labelValues[i]);
            }
        }).register(registry);
    }

    /** Observes one finished HTTP request. */
    public void request(String endpoint, int status) {
        requests.labelValues(endpoint, Integer.toString(status)).inc();
    }

    /** A tracker for one generation: call its methods from the engine thread as tokens arrive. */
    public GenerationTimer generation(long arrivalNanos, int promptTokens) {
        this.promptTokens.inc(promptTokens);
        return new GenerationTimer(this, arrivalNanos);
    }

    /** Attention-side pipeline observer (a {@link io.shuttle.engine.StepTrace}). */
    public PipelineMetrics pipeline(io.shuttle.engine.StepTrace next) {
        return new PipelineMetrics(this, next);
    }

    /** Expert-side round observer. */
    public ExpertRoundMetrics expertRounds(io.shuttle.pipeline.RoundTrace next) {
        return new ExpertRoundMetrics(this, next);
    }

    /** The Prometheus text exposition (format 0.0.4) of every metric. */
    public byte[] scrape() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(16 * 1024);
        try {
            writer.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    public String contentType() {
        return writer.getContentType();
    }
}
