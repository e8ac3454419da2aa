package io.shuttle.api;

import jakarta.inject.Inject;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Optional;

/**
 * The API key check on {@code /v1/*} when a key is configured: {@code Authorization: Bearer
 * KEY}, compared in constant time.
 */
public class ApiFilters {
    @Inject
    ServingRuntime runtime;

    @ServerRequestFilter(preMatching = true)
    public Optional<Response> apiKey(ContainerRequestContext ctx) {
        String path = ctx.getUriInfo().getPath();
        if (path.equals("/v1/completions") || path.equals("/v1/chat/completions")) {
            // These answer JSON or SSE depending on the body's "stream" and set Content-Type
            // themselves; clients' Accept headers (the openai client sends application/json even
            // when streaming) must not turn that into a 406 during content negotiation.
            ctx.getHeaders().putSingle("Accept", "*/*");
        }
        Optional<String> key = runtime.apiKey();
        if (key.isEmpty() || !path.startsWith("/v1/")) {
            return Optional.empty();
        }
        String auth = ctx.getHeaderString("Authorization");
        String given = auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7) ? auth.substring(7).strip() : null;
        if (given != null && MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8),
                key.get().getBytes(StandardCharsets.UTF_8))) {
            return Optional.empty();
        }
        ApiException e = ApiException.unauthorized(given == null
                ? "missing API key: send the header 'Authorization: Bearer YOUR_KEY'"
                : "the API key is not valid");
        return Optional.of(new ApiExceptionMappers().api(e));
    }

}
