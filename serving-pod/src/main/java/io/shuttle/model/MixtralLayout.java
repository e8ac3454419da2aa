package io.shuttle.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tensors a Mixtral checkpoint holds for a given {@link ModelConfig}: names (from
 * {@link MixtralNames}), {@code [out, in]} shapes, and which config.json fields imply each shape,
 * in the order of Hugging Face's {@code MixtralForCausalLM.state_dict()}. One table serves the
 * loader's shape checks, the generator and the shard splitter.
 */
public final class MixtralLayout {

    /** What kind of weight a tensor is (the generator draws each kind differently). */
    public enum Role { EMBEDDING, NORM, LINEAR, ROUTER, LM_HEAD }

    /**
     * One expected tensor.
     *
     * @param name   checkpoint name
     * @param shape  expected shape
     * @param reason the config.json fields behind the shape, e.g. "hidden_size=64"
     * @param role   the kind of weight
     */
    public record Expected(String name, long[] shape, String reason, Role role) {
        public Expected {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        public long numel() {
            return Arrays.stream(shape).reduce(1, Math::multiplyExact);
        }

        /** Input features of a linear weight (the last dimension). */
        public long inFeatures() {
            return shape[shape.length - 1];
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Expected e && name.equals(e.name) && Arrays.equals(shape, e.shape)
                    && reason.equals(e.reason) && role == e.role;
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return name + Arrays.toString(shape);
        }
    }

    private MixtralLayout() {
    }

    /** All tensors in state-dict order; {@code lm_head.weight} only when embeddings are not tied. */
    public static List<Expected> tensors(ModelConfig c) {
        long h = c.hiddenSize();
        String hidden = "hidden_size=" + h;
        String vocab = "vocab_size=" + c.vocabSize() + ", " + hidden;
        String q = "num_attention_heads=" + c.numHeads() + " × head_dim=" + c.headDim();
        String kv = "num_key_value_heads=" + c.numKvHeads() + " × head_dim=" + c.headDim();
        String ffn = "intermediate_size=" + c.intermediateSize();
        List<Expected> out = new ArrayList<>();
        out.add(new Expected(MixtralNames.embedTokens(), new long[] {c.vocabSize(), h}, vocab, Role.EMBEDDING));
        for (int l = 0; l < c.numLayers(); l++) {
            out.add(new Expected(MixtralNames.qProj(l), new long[] {c.qDim(), h}, q + ", " + hidden, Role.LINEAR));
            out.add(new Expected(MixtralNames.kProj(l), new long[] {c.kvDim(), h}, kv + ", " + hidden, Role.LINEAR));
            out.add(new Expected(MixtralNames.vProj(l), new long[] {c.kvDim(), h}, kv + ", " + hidden, Role.LINEAR));
            out.add(new Expected(MixtralNames.oProj(l), new long[] {h, c.qDim()}, hidden + ", " + q, Role.LINEAR));
            out.add(new Expected(MixtralNames.router(l), new long[] {c.numExperts(), h},
                    "num_local_experts=" + c.numExperts() + ", " + hidden, Role.ROUTER));
            for (int e = 0; e < c.numExperts(); e++) {
                out.add(new Expected(MixtralNames.expertW1(l, e), new long[] {c.intermediateSize(), h},
                        ffn + ", " + hidden, Role.LINEAR));
                out.add(new Expected(MixtralNames.expertW2(l, e), new long[] {h, c.intermediateSize()},
                        hidden + ", " + ffn, Role.LINEAR));
                out.add(new Expected(MixtralNames.expertW3(l, e), new long[] {c.intermediateSize(), h},
                        ffn + ", " + hidden, Role.LINEAR));
            }
            out.add(new Expected(MixtralNames.inputNorm(l), new long[] {h}, hidden, Role.NORM));
            out.add(new Expected(MixtralNames.postAttentionNorm(l), new long[] {h}, hidden, Role.NORM));
        }
        out.add(new Expected(MixtralNames.finalNorm(), new long[] {h}, hidden, Role.NORM));
        if (!c.tieWordEmbeddings()) {
            out.add(new Expected(MixtralNames.lmHead(), new long[] {c.vocabSize(), h}, vocab, Role.LM_HEAD));
        }
        return out;
    }

    /** {@link #tensors} keyed by name. */
    public static Map<String, Expected> byName(ModelConfig c) {
        Map<String, Expected> map = new LinkedHashMap<>();
        for (Expected e : tensors(c)) {
            map.put(e.name(), e);
        }
        return map;
    }

    /** Total number of parameters (elements over all tensors). */
    public static long parameterCount(ModelConfig c) {
        return tensors(c).stream().mapToLong(Expected::numel).sum();
    }
}
