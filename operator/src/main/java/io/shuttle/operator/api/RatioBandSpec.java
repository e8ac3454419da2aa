package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.ValidationRule;

/**
 * Attention pods / expert pods must stay within [min, max]. Either bound may be left out; the
 * missing one takes the default band's.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!has(self.min) || !has(self.max) || self.min <= self.max",
        message = "ratio.min cannot exceed ratio.max", reason = "FieldValueInvalid")
public record RatioBandSpec(
        @Min(0.01) @Max(100) @JsonPropertyDescription("Lowest attention pods per expert pod.") Double min,
        @Min(0.01) @Max(100) @JsonPropertyDescription("Highest attention pods per expert pod.") Double max) {
}
