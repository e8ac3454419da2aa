package io.shuttle.api;

import io.shuttle.metrics.ServingMetrics;
import io.shuttle.serve.AttentionPod;
import io.shuttle.serve.ExpertPod;
import jakarta.inject.Singleton;

import java.time.Duration;
import java.util.Optional;

/**
 * The pod this process serves, as the HTTP side sees it. Quarkus starts the HTTP server first;
 * the pod (model loading, M2N) is installed when it is up, so health answers "not ready" while
 * the model loads instead of the port being closed.
 */
@Singleton
public class ServingRuntime {
    /** How recent a complete M2N round must be for the pod to count as ready. */
    static final Duration READY_WITHIN = Duration.ofSeconds(5);

    private final ServingMetrics metrics = new ServingMetrics();
    private volatile AttentionPod attention;
    private volatile ExpertPod expert;
    private volatile String role = "starting";
    private volatile String apiKey;
    private volatile boolean draining;

    public ServingMetrics metrics() {
        return metrics;
    }

    public void install(AttentionPod pod) {
        attention = pod;
        role = "attention";
    }

    public void install(ExpertPod pod) {
        expert = pod;
        role = "expert";
    }

    /** Forgets the pod (it is being closed): requests get 503 from now on. */
    public void uninstall() {
        attention = null;
        expert = null;
        role = "stopping";
    }

    /**
     * The pod is shutting down (SIGTERM, scale-in): not ready any more, new requests get 503,
     * the requests already admitted run to their end.
     */
    public void drain() {
        draining = true;
    }

    public boolean draining() {
        return draining;
    }

    /** Requires this API key on /v1 requests (null: no key). */
    public void apiKey(String key) {
        this.apiKey = key;
    }

    public Optional<String> apiKey() {
        return Optional.ofNullable(apiKey);
    }

    public String role() {
        return role;
    }

    /** The attention pod, or an OpenAI-style 503 when this process is not (yet) one. */
    public AttentionPod attention() {
        AttentionPod a = attention;
        if (draining) {
            throw ApiException.unavailable("this pod is shutting down; send the request to another attention pod");
        }
        if (a == null) {
            throw ApiException.unavailable("expert".equals(role)
                    ? "this is an expert pod; send API requests to an attention pod"
                    : "the model is still loading; retry in a few seconds");
        }
        return a;
    }

    public Optional<AttentionPod> attentionPod() {
        return Optional.ofNullable(attention);
    }

    public Optional<ExpertPod> expertPod() {
        return Optional.ofNullable(expert);
    }

    /** Alive: loading, or the installed pod's loop/serving thread runs. */
    public boolean live() {
        AttentionPod a = attention;
        ExpertPod e = expert;
        return a != null ? a.live() : e == null || e.live();
    }

    /** Ready: a pod is installed and its M2N peers answered recently. */
    public boolean ready() {
        if (draining) {
            return false;
        }
        AttentionPod a = attention;
        ExpertPod e = expert;
        return a != null ? a.ready(READY_WITHIN) : e != null && e.ready(READY_WITHIN);
    }
}
