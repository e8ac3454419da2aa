package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.Tensor;
import io.shuttle.model.Checkpoint;
import io.shuttle.model.MixtralNames;
import io.shuttle.model.ModelConfig;

import java.util.Arrays;
import java.util.BitSet;

/**
 * The experts one process holds, for every layer. Only the experts in {@code held} are mapped
 * from the checkpoint, so an expert pod never touches the bytes of experts it does not serve.
 */
public final class ExpertWeights {

    /**
     * One expert's SwiGLU weights.
     *
     * @param w1 gate projection [intermediate, hidden]
     * @param w2 down projection [hidden, intermediate]
     * @param w3 up projection [intermediate, hidden]
     */
    public record Expert(Tensor w1, Tensor w2, Tensor w3) {
        long byteSize() {
            return w1.byteSize() + w2.byteSize() + w3.byteSize();
        }
    }

    private final Expert[][] experts; // [layer][expert], null where not held
    private final BitSet held;

    private ExpertWeights(Expert[][] experts, BitSet held) {
        this.experts = experts;
        this.held = held;
    }

    /** Loads the given expert ids (for every layer); an empty or out-of-range id set is an error. */
    public static ExpertWeights load(Checkpoint ckpt, Backend backend, int[] expertIds) {
        ModelConfig c = ckpt.config();
        BitSet held = new BitSet(c.numExperts());
        for (int e : expertIds) {
            if (e < 0 || e >= c.numExperts()) {
                throw new IllegalArgumentException("expert id " + e + " is out of range: the model has "
                        + c.numExperts() + " experts (0.." + (c.numExperts() - 1) + ")");
            }
            held.set(e);
        }
        if (held.isEmpty()) {
            throw new IllegalArgumentException("an expert stage must hold at least one expert");
        }
        long h = c.hiddenSize();
        long f = c.intermediateSize();
        Expert[][] experts = new Expert[c.numLayers()][c.numExperts()];
        for (int l = 0; l < c.numLayers(); l++) {
            for (int e = held.nextSetBit(0); e >= 0; e = held.nextSetBit(e + 1)) {
                experts[l][e] = new Expert(
                        backend.prepareLinear(ckpt.tensor(MixtralNames.expertW1(l, e), f, h)),
                        backend.prepareLinear(ckpt.tensor(MixtralNames.expertW2(l, e), h, f)),
                        backend.prepareLinear(ckpt.tensor(MixtralNames.expertW3(l, e), f, h)));
            }
        }
        return new ExpertWeights(experts, held);
    }

    /** All experts of the model. */
    public static ExpertWeights loadAll(Checkpoint ckpt, Backend backend) {
        int[] all = new int[ckpt.config().numExperts()];
        Arrays.setAll(all, i -> i);
        return load(ckpt, backend, all);
    }

    public boolean holds(int expert) {
        return expert >= 0 && held.get(expert);
    }

    /** The weights of {@code expert} in {@code layer}; the caller checks {@link #holds} first. */
    public Expert get(int layer, int expert) {
        return experts[layer][expert];
    }

    public int[] heldExperts() {
        return held.stream().toArray();
    }

    /** Bytes of one expert in one layer (all experts have the same shape). */
    public long bytesPerExpert() {
        int e = held.nextSetBit(0);
        return experts[0][e].byteSize();
    }
}
