package io.shuttle.api;

import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.core.Response;

/** {@code GET /metrics}: every metric of docs/METRICS.md in the Prometheus text format. */
@Path("/metrics")
public class MetricsResource {
    @Inject
    ServingRuntime runtime;

    @GET
    public Response scrape() {
        return Response.ok(runtime.metrics().scrape()).type(runtime.metrics().contentType()).build();
    }
}
