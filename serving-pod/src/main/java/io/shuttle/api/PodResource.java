package io.shuttle.api;

import io.shuttle.serve.AttentionPod;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The pod's own endpoints beside the OpenAI API: {@code GET /health} (role, state, queue and KV
 * details as JSON; 200 while the pod's loop runs), {@code GET /stats} (pipeline totals) and,
 * on attention pods, {@code POST /v1/shuttle/generate} (the batch form of {@code shuttle
 * generate}, with token ids and optionally full logits: what the equality tests compare;
 * {@link ShuttleGenerateResource}).
 */
@Path("/")
public class PodResource {
    @Inject
    ServingRuntime runtime;

    @GET
    @Path("health")
    @Produces(MediaType.APPLICATION_JSON)
    public Response health() {
        Map<String, Object> body = runtime.attentionPod().map(AttentionPod::health)
                .or(() -> runtime.expertPod().map(e -> e.health()))
                .orElseGet(() -> {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("role", runtime.role());
                    m.put("status", "loading");
                    return m;
                });
        boolean installed = runtime.attentionPod().isPresent() || runtime.expertPod().isPresent();
        return Response.status(installed && runtime.live() ? 200 : 503).entity(body).build();
    }

    @GET
    @Path("stats")
    @Produces(MediaType.APPLICATION_JSON)
    public Map<String, Object> stats() {
        return runtime.attentionPod().map(AttentionPod::stats)
                .or(() -> runtime.expertPod().map(e -> e.stats()))
                .orElseThrow(() -> ApiException.unavailable("the pod is still starting"));
    }
}
