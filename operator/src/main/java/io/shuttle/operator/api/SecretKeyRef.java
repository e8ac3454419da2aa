package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;

/**
 * A key of a Secret in the deployment's namespace.
 *
 * @param name the Secret's name
 * @param key  the key inside it
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record SecretKeyRef(
        @Required @Pattern("^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$") @JsonPropertyDescription("Secret name.") String name,
        @Required @Pattern("^[-._a-zA-Z0-9]+$") @JsonPropertyDescription("Key inside the Secret.") String key) {
}
