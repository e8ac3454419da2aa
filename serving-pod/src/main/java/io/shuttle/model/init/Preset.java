package io.shuttle.model.init;

import io.shuttle.model.MixtralLayout;
import io.shuttle.model.ModelConfig;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A named model shape for {@code shuttle model init}. The built-in presets are {@link #tiny()}
 * (unit and end-to-end tests: GQA, 4 experts, top-2, about 0.29M parameters) and {@link #small()}
 * (a realistic local default, about 90M parameters). Tests build variants (MHA, top-1, top-3,
 * other sizes) with {@link #toBuilder()}:
 *
 * <pre>{@code
 * ModelConfig mha = Preset.tiny().toBuilder().numKvHeads(4).topK(1).build().config();
 * }</pre>
 *
 * @param name        preset name as typed on the command line
 * @param description one line for help output
 * @param config      the hyperparameters
 */
public record Preset(String name, String description, ModelConfig config) {

    /** hidden 64, 2 layers, 4 experts top-2, 4 heads / 2 KV heads of 16, FFN 128, vocab 512. */
    public static Preset tiny() {
        return new Preset("tiny", "2 layers, hidden 64, 4 experts top-2, GQA 4/2 heads, vocab 512",
                new ModelConfig("mixtral", 512, 64, 128, 2, 4, 2, 16, 4, 2,
                        1e-5f, 10_000f, 2048, false, 1, 2));
    }

    /** hidden 512, 8 layers, 8 experts top-2, 8 heads / 4 KV heads of 64, FFN 768, vocab 8192: ~90M parameters. */
    public static Preset small() {
        return new Preset("small", "8 layers, hidden 512, 8 experts top-2, GQA 8/4 heads, vocab 8192 (~90M parameters)",
                new ModelConfig("mixtral", 8192, 512, 768, 8, 8, 4, 64, 8, 2,
                        1e-5f, 1_000_000f, 4096, false, 1, 2));
    }

    /** All built-in presets. */
    public static List<Preset> all() {
        return List.of(tiny(), small());
    }

    /** The built-in preset of that name; the error lists the available ones. */
    public static Preset byName(String name) {
        return all().stream().filter(p -> p.name().equals(name)).findFirst().orElseThrow(() ->
                new IllegalArgumentException("unknown preset '" + name + "'; available: " + names()));
    }

    /** "tiny, small" */
    public static String names() {
        return all().stream().map(Preset::name).collect(Collectors.joining(", "));
    }

    public long parameterCount() {
        return MixtralLayout.parameterCount(config);
    }

    public Builder toBuilder() {
        return new Builder(this);
    }

    /** Derives a preset from another by changing some hyperparameters. */
    public static final class Builder {
        private String name;
        private String description;
        private int vocab;
        private int hidden;
        private int intermediate;
        private int layers;
        private int heads;
        private int kvHeads;
        private int headDim;
        private int experts;
        private int topK;
        private float eps;
        private float ropeTheta;
        private int maxPositions;
        private boolean tie;

        private Builder(Preset p) {
            ModelConfig c = p.config();
            name = p.name();
            description = p.description();
            vocab = c.vocabSize();
            hidden = c.hiddenSize();
            intermediate = c.intermediateSize();
            layers = c.numLayers();
            heads = c.numHeads();
            kvHeads = c.numKvHeads();
            headDim = c.headDim();
            experts = c.numExperts();
            topK = c.topK();
            eps = c.rmsNormEps();
            ropeTheta = c.ropeTheta();
            maxPositions = c.maxPositionEmbeddings();
            tie = c.tieWordEmbeddings();
        }

        public Builder name(String v) { name = v; description = "custom"; return this; }
        public Builder vocabSize(int v) { vocab = v; return this; }
        public Builder hiddenSize(int v) { hidden = v; return this; }
        public Builder intermediateSize(int v) { intermediate = v; return this; }
        public Builder numLayers(int v) { layers = v; return this; }
        public Builder numHeads(int v) { heads = v; return this; }
        public Builder numKvHeads(int v) { kvHeads = v; return this; }
        public Builder headDim(int v) { headDim = v; return this; }
        public Builder numExperts(int v) { experts = v; return this; }
        public Builder topK(int v) { topK = v; return this; }
        public Builder rmsNormEps(float v) { eps = v; return this; }
        public Builder ropeTheta(float v) { ropeTheta = v; return this; }
        public Builder maxPositionEmbeddings(int v) { maxPositions = v; return this; }
        public Builder tieWordEmbeddings(boolean v) { tie = v; return this; }

        /** Validates through {@link ModelConfig}'s constructor (IllegalArgumentException on nonsense). */
        public Preset build() {
            return new Preset(name, description, new ModelConfig("mixtral", vocab, hidden, intermediate, layers,
                    heads, kvHeads, headDim, experts, topK, eps, ropeTheta, maxPositions, tie, 1, 2));
        }
    }
}
