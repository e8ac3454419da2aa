package io.shuttle.operator.desired;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.shuttle.operator.api.ModelSpec;
import io.shuttle.operator.planner.ModelShape;

/**
 * What the operator knows about the model without downloading it: its shape (for the planner
 * and the placement) and its longest sequence.
 *
 * @param source       the parsed source
 * @param shape        layers, experts, sizes
 * @param maxPositions the model's {@code max_position_embeddings}
 */
public record ModelFacts(ModelSource source, ModelShape shape, int maxPositions) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The facts of {@code spec}; builtin shapes mirror {@code shuttle model init}'s presets. */
    public static ModelFacts of(ModelSpec spec) {
        ModelSource source = ModelSource.parse(spec.source());
        if (source instanceof ModelSource.Builtin b) {
            return switch (b.preset()) {
                // serving-pod Preset.tiny(): vocab 512, hidden 64, ffn 128, 2 layers, 4 heads / 2 kv of 16, 4 experts top-2
                case "tiny" -> new ModelFacts(source, new ModelShape("tiny", 2, 64, 128, 4, 2, 4, 2, 16, 512, 2), 2048);
                // serving-pod Preset.small(): vocab 8192, hidden 512, ffn 768, 8 layers, 8 heads / 4 kv of 64, 8 experts top-2
                default -> new ModelFacts(source, new ModelShape("small", 8, 512, 768, 8, 2, 8, 4, 64, 8192, 2), 4096);
            };
        }
        if (spec.preset() != null) {
            return switch (spec.preset()) {
                case MIXTRAL_8X7B -> new ModelFacts(source, ModelShape.mixtral8x7b(), 32768);
                case MIXTRAL_8X22B -> new ModelFacts(source, ModelShape.mixtral8x22b(), 65536);
            };
        }
        if (spec.configJson() == null) {
            throw new InvalidSpecException("InvalidModel",
                    "spec.model needs preset or configJson for " + spec.source() + " (the operator does not download the model)");
        }
        try {
            ModelShape shape = ModelShape.fromConfigJson(spec.configJson());
            JsonNode node = JSON.readTree(spec.configJson());
            return new ModelFacts(source, shape, node.path("max_position_embeddings").asInt(4096));
        } catch (RuntimeException | com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new InvalidSpecException("InvalidModel", "spec.model.configJson is not a usable Hugging Face config.json: "
                    + e.getMessage());
        }
    }
}
