package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.Tensor;
import io.shuttle.model.Checkpoint;
import io.shuttle.model.MixtralNames;
import io.shuttle.model.ModelConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * Everything an attention pod holds: embeddings, per-layer attention and router weights and
 * norms, the final norm and lm_head. Shapes are checked against config.json at load.
 *
 * @param embedTokens [vocab, hidden]
 * @param layers      one entry per layer
 * @param finalNorm   [hidden]
 * @param lmHead      [vocab, hidden]; the embedding table itself when tie_word_embeddings
 */
public record AttentionWeights(Tensor embedTokens, List<Layer> layers, Tensor finalNorm, Tensor lmHead) {

    /**
     * One layer's attention half.
     *
     * @param inputNorm         [hidden]
     * @param qProj             [heads * headDim, hidden]
     * @param kProj             [kvHeads * headDim, hidden]
     * @param vProj             [kvHeads * headDim, hidden]
     * @param oProj             [hidden, heads * headDim]
     * @param postAttentionNorm [hidden]
     * @param router            [experts, hidden]
     */
    public record Layer(Tensor inputNorm, Tensor qProj, Tensor kProj, Tensor vProj, Tensor oProj,
                        Tensor postAttentionNorm, Tensor router) {
        long byteSize() {
            return inputNorm.byteSize() + qProj.byteSize() + kProj.byteSize() + vProj.byteSize()
                    + oProj.byteSize() + postAttentionNorm.byteSize() + router.byteSize();
        }
    }

    public static AttentionWeights load(Checkpoint ckpt, Backend backend) {
        ModelConfig c = ckpt.config();
        long h = c.hiddenSize();
        Tensor embed = backend.prepareWeight(ckpt.tensor(MixtralNames.embedTokens(), c.vocabSize(), h));
        List<Layer> layers = new ArrayList<>(c.numLayers());
        for (int l = 0; l < c.numLayers(); l++) {
            layers.add(new Layer(
                    backend.prepareWeight(ckpt.tensor(MixtralNames.inputNorm(l), h)),
                    backend.prepareLinear(ckpt.tensor(MixtralNames.qProj(l), c.qDim(), h)),
                    backend.prepareLinear(ckpt.tensor(MixtralNames.kProj(l), c.kvDim(), h)),
                    backend.prepareLinear(ckpt.tensor(MixtralNames.vProj(l), c.kvDim(), h)),
                    backend.prepareLinear(ckpt.tensor(MixtralNames.oProj(l), h, c.qDim())),
                    backend.prepareWeight(ckpt.tensor(MixtralNames.postAttentionNorm(l), h)),
                    backend.prepareLinear(ckpt.tensor(MixtralNames.router(l), c.numExperts(), h))));
        }
        Tensor norm = backend.prepareWeight(ckpt.tensor(MixtralNames.finalNorm(), h));
        Tensor lmHead = c.tieWordEmbeddings() && !ckpt.contains(MixtralNames.lmHead())
                ? embed
                : backend.prepareLinear(ckpt.tensor(MixtralNames.lmHead(), c.vocabSize(), h));
        return new AttentionWeights(embed, List.copyOf(layers), norm, lmHead);
    }

    /** Bytes read per decode step of one token: every layer's weights, the final norm, lm_head and one embedding row. */
    public long bytesPerDecodeToken() {
        long bytes = finalNorm.byteSize() + lmHead.byteSize() + embedTokens.rowSize() * embedTokens.dtype().byteSize();
        for (Layer layer : layers) {
            bytes += layer.byteSize();
        }
        return bytes;
    }
}
