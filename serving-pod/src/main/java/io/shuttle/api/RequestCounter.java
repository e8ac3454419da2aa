package io.shuttle.api;

import io.vertx.ext.web.Router;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

/** The {@code shuttle_requests_total} counter, fed from the HTTP router. */
@Singleton
public class RequestCounter {
    @Inject
    ServingRuntime runtime;

    /**
     * Counts every HTTP request by endpoint and status when its headers go out — streamed answers
     * included, which JAX-RS response filters do not see — at the Vert.x router, before any
     * other handler.
     */
    void countRequests(@Observes Router router) {
        router.route().order(Integer.MIN_VALUE).handler(rc -> {
            String path = rc.normalizedPath();
            rc.addHeadersEndHandler(v -> runtime.metrics().request(endpoint(path), rc.response().getStatusCode()));
            rc.next();
        });
    }

    /** A bounded label: the known endpoints, everything else "other". */
    static String endpoint(String path) {
        return switch (path) {
            case "/v1/completions", "/v1/chat/completions", "/v1/models", "/v1/shuttle/generate", "/health",
                 "/stats", "/metrics", "/q/health", "/q/health/live", "/q/health/ready" -> path;
            default -> "other";
        };
    }
}
