package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;

/** The client-facing HTTP API of the attention pods. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ApiSpec(
        @Min(1) @Max(65535) @JsonPropertyDescription("HTTP port of the attention pods and the client Service (default 8000).")
        Integer port,
        @JsonPropertyDescription("Secret key holding the API key clients must send as 'Authorization: Bearer KEY' (mounted into the attention pods).")
        SecretKeyRef apiKeySecret) {

    public static final int DEFAULT_PORT = 8000;

    public int portOrDefault() {
        return port == null ? DEFAULT_PORT : port;
    }
}
