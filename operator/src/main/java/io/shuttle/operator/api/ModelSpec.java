package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.ValidationRule;

/**
 * Where the checkpoint comes from, and the model facts the operator needs without downloading
 * it (expert count for the placement, shape for the planner).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!has(self.tokenSecret) || self.source.startsWith('hf://')",
        message = "tokenSecret applies to hf:// sources only", reason = "FieldValueForbidden")
@ValidationRule(value = "!has(self.revision) || self.source.startsWith('hf://')",
        message = "revision applies to hf:// sources only", reason = "FieldValueForbidden")
@ValidationRule(value = "self.source.startsWith('builtin://') ? !has(self.preset) && !has(self.configJson) : has(self.preset) != has(self.configJson)",
        message = "pvc:// and hf:// sources need exactly one of preset or configJson (the operator plans without downloading the model); builtin:// sources take neither",
        reason = "FieldValueInvalid")
public record ModelSpec(
        @Required
        @Pattern("^(pvc://[a-z0-9]([-a-z0-9.]*[a-z0-9])?/.*|hf://[A-Za-z0-9][-._A-Za-z0-9]*/[-._A-Za-z0-9]+|builtin://(tiny|small))$")
        @JsonPropertyDescription("Checkpoint source: pvc://CLAIM/PATH (a Hugging Face folder on a PersistentVolumeClaim), "
                + "hf://ORG/NAME (downloaded by an init container), or builtin://tiny|small (random weights made in the pod).")
        String source,
        @JsonPropertyDescription("hf:// only: branch, tag or commit (default main).")
        String revision,
        @JsonPropertyDescription("hf:// only: Secret key holding a Hugging Face token for gated models.")
        SecretKeyRef tokenSecret,
        @JsonPropertyDescription("Known model shape (pvc:// and hf:// sources): mixtral-8x7b or mixtral-8x22b.")
        Preset preset,
        @JsonPropertyDescription("The model's Hugging Face config.json text (pvc:// and hf:// sources), instead of preset.")
        String configJson) {

    /** Model shapes the operator knows without a config.json. */
    public enum Preset {
        @JsonProperty("mixtral-8x7b") MIXTRAL_8X7B,
        @JsonProperty("mixtral-8x22b") MIXTRAL_8X22B
    }
}
