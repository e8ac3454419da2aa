package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.ValidationRule;

/** Token traffic between the pools (M2N). */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!has(self.attentionPort) || !has(self.expertPort) || self.attentionPort != self.expertPort",
        message = "attentionPort and expertPort must differ", reason = "FieldValueInvalid")
public record M2nSpec(
        @JsonPropertyDescription("auto (UCX where it loads, else TCP), ucx or tcp. Default auto.")
        Transport transport,
        @Min(1024) @Max(65535) @JsonPropertyDescription("M2N port of the attention pods (default 7100).")
        Integer attentionPort,
        @Min(1024) @Max(65535) @JsonPropertyDescription("M2N port of the expert pods (default 7200).")
        Integer expertPort) {

    public static final int DEFAULT_ATTENTION_PORT = 7100;
    public static final int DEFAULT_EXPERT_PORT = 7200;

    public enum Transport {
        @JsonProperty("auto") AUTO,
        @JsonProperty("ucx") UCX,
        @JsonProperty("tcp") TCP
    }
}
