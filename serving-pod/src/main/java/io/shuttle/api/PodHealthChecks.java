package io.shuttle.api;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;
import org.eclipse.microprofile.health.Readiness;

/**
 * {@code /q/health/live}: the process works (loading counts as alive; a dead engine loop or
 * expert server does not, nor an M2N node whose progress thread ended). {@code /q/health/ready}:
 * the model is loaded, an attention pod's warm-up has ended, and a round with every M2N peer of the
 * plan completed in the last few seconds.
 */
public final class PodHealthChecks {
    private PodHealthChecks() {
    }

    @Liveness
    @ApplicationScoped
    public static class Live implements HealthCheck {
        @Inject
        ServingRuntime runtime;

        @Override
        public HealthCheckResponse call() {
            return HealthCheckResponse.named("shuttle-pod").status(runtime.live()).withData("role", runtime.role()).build();
        }
    }

    @Readiness
    @ApplicationScoped
    public static class Ready implements HealthCheck {
        @Inject
        ServingRuntime runtime;

        @Override
        public HealthCheckResponse call() {
            boolean loaded = runtime.attentionPod().isPresent() || runtime.expertPod().isPresent();
            var response = HealthCheckResponse.named("shuttle-m2n-peers").status(runtime.ready())
                    .withData("role", runtime.role()).withData("model_loaded", loaded);
            // running, settled, time_limit, failed or skipped: "running" explains a loaded pod that is not ready yet.
            runtime.attentionPod().ifPresent(a -> response.withData("warm_up",
                    a.warmup().outcome().name().toLowerCase(java.util.Locale.ROOT)));
            return response.build();
        }
    }
}
