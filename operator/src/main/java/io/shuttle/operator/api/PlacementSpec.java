package io.shuttle.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.IntOrString;

import java.util.List;

/** Which experts live on which expert pod. */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
@ValidationRule(value = "!has(self.replicasPerExpert) || (type(self.replicasPerExpert) == string ? self.replicasPerExpert == 'auto' : self.replicasPerExpert >= 1)",
        message = "replicasPerExpert is 'auto' or a number ≥ 1", reason = "FieldValueInvalid")
@ValidationRule(value = "!has(self.experts) || !has(self.replicasPerExpert)",
        message = "give either experts (an explicit placement) or replicasPerExpert, not both", reason = "FieldValueForbidden")
public record PlacementSpec(
        @JsonPropertyDescription("Copies of each expert across the expert pods: 'auto' (default: the fewest that give every pod "
                + "an expert) or a number. Copies of one expert share its tokens.")
        IntOrString replicasPerExpert,
        @JsonPropertyDescription("Explicit placement: for each expert pod (by ordinal) the expert ids it holds. Must have one "
                + "entry per expert pod.")
        List<List<Integer>> experts) {
}
