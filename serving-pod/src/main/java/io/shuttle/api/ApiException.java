package io.shuttle.api;

/**
 * An API error in OpenAI's shape: HTTP status, error type, message, and the offending parameter.
 * Thrown anywhere in request handling; {@link ApiExceptionMappers} writes the body.
 */
public final class ApiException extends RuntimeException {
    private final int status;
    private final String type;
    private final String param;
    private final String code;
    private final Integer retryAfterSeconds;

    public ApiException(int status, String type, String message, String param, String code, Integer retryAfterSeconds) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** 400: the request is wrong; {@code param} names the field. */
    public static ApiException invalid(String param, String message) {
        return new ApiException(400, "invalid_request_error", message, param, null, null);
    }

    public static ApiException unauthorized(String message) {
        return new ApiException(401, "authentication_error", message, null, "invalid_api_key", null);
    }

    public static ApiException notFound(String param, String message, String code) {
        return new ApiException(404, "invalid_request_error", message, param, code, null);
    }

    /** 429: shed load; the client should retry after a pause. */
    public static ApiException overloaded(String message) {
        return new ApiException(429, "rate_limit_error", message, null, "queue_full", 1);
    }

    /** 503: the model is loading, or the expert pods cannot be reached. */
    public static ApiException unavailable(String message) {
        return new ApiException(503, "service_unavailable", message, null, "unavailable", 2);
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String param() {
        return param;
    }

    public String code() {
        return code;
    }

    public Integer retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
