package io.shuttle.api;

import io.shuttle.serve.AttentionPod;
import io.shuttle.serve.GenerateEndpoint;
import io.smallrye.common.annotation.Blocking;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import java.time.Duration;

/**
 * {@code POST /v1/shuttle/generate}: the batch form of {@code shuttle generate} on an attention
 * pod, with token ids and optionally full logits (what the equality tests compare). Its own
 * root class: JAX-RS picks the root class by the longest path, so it cannot live under "/".
 */
@Path("/v1/shuttle")
public class ShuttleGenerateResource {
    @Inject
    ServingRuntime runtime;

    @POST
    @Path("generate")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    @Blocking
    public Response generate(byte[] body) throws Exception {
        AttentionPod pod = runtime.attention();
        GenerateEndpoint g = new GenerateEndpoint(pod.loop(), pod.tokenizer(), Duration.ofMinutes(10));
        try {
            GenerateEndpoint.Reply r = g.handle(body);
            return Response.status(r.status()).entity(r.body()).build();
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(null, e.getMessage());
        }
    }
}
