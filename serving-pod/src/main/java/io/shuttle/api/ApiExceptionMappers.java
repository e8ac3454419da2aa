package io.shuttle.api;

import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Every error leaves in OpenAI's body format, {@code {"error": {"message", "type", "param",
 * "code"}}}, with the right status. Framework errors (unknown path, wrong method, unsupported
 * media type, body too large) keep their status; anything unexpected is a 500 and is logged —
 * bad input never ends up there.
 */
public class ApiExceptionMappers {
    private static final Logger LOG = Logger.getLogger(ApiExceptionMappers.class);

    @ServerExceptionMapper
    public Response api(ApiException e) {
        Response.ResponseBuilder r = Response.status(e.status()).type(MediaType.APPLICATION_JSON)
                .entity(body(e.getMessage(), e.type(), e.param(), e.code()));
        if (e.retryAfterSeconds() != null) {
            r.header("Retry-After", e.retryAfterSeconds());
        }
        return r.build();
    }

    @ServerExceptionMapper
    public Response web(WebApplicationException e) {
        int status = e.getResponse().getStatus();
        String message = switch (status) {
            case 404 -> "no such endpoint; see GET /v1/models, POST /v1/completions, POST /v1/chat/completions";
            case 405 -> "this endpoint does not accept that HTTP method";
            case 406 -> "cannot produce the requested content type; accept application/json or text/event-stream";
            case 413 -> "the request body is too large";
            case 415 -> "send the body as application/json";
            default -> e.getMessage();
        };
        return Response.status(status).type(MediaType.APPLICATION_JSON)
                .entity(body(message, status >= 500 ? "server_error" : "invalid_request_error", null, null)).build();
    }

    @ServerExceptionMapper
    public Response unexpected(Exception e) {
        LOG.error("unexpected error while serving a request", e);
        return Response.status(500).type(MediaType.APPLICATION_JSON)
                .entity(body("internal error: " + e, "server_error", null, null)).build();
    }

    static Map<String, Object> body(String message, String type, String param, String code) {
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("message", message == null ? "unknown error" : message);
        error.put("type", type);
        error.put("param", param);
        error.put("code", code);
        return Map.of("error", error);
    }
}
