package io.shuttle.kernels.cpu;

import io.shuttle.kernels.Tensor;

import java.lang.foreign.MemorySegment;

import static io.shuttle.kernels.cpu.Simd.F32;
import static io.shuttle.kernels.cpu.Simd.I32;

/**
 * Mixtral routing per row: softmax over all experts in F32, top-k by repeated selection
 * (descending probability; a strict {@code >} while scanning ids upwards keeps ties on the lower
 * id), then the k probabilities renormalised to sum to one. Experts number a handful, so this is
 * scalar and single-threaded; the operation order matches {@code ScalarBackend} exactly, so both
 * pick the same experts.
 */
final class RouterTopK {

    private float[] probs = new float[0];

    void run(Tensor logitsTensor, int k, Tensor idsTensor, Tensor weightsTensor) {
        MemorySegment logits = logitsTensor.data();
        MemorySegment ids = idsTensor.data();
        MemorySegment weights = weightsTensor.data();
        int experts = (int) logitsTensor.dim(1);
        if (probs.length < experts) {
            probs = new float[experts];
        }
        for (long i = 0, n = logitsTensor.dim(0); i < n; i++) {
            long base = i * experts;
            float max = Float.NEGATIVE_INFINITY;
            for (int e = 0; e < experts; e++) {
                max = Math.max(max, logits.getAtIndex(F32, base + e));
            }
            float sum = 0;
            for (int e = 0; e < experts; e++) {
                probs[e] = (float) Math.exp(logits.getAtIndex(F32, base + e) - max);
                sum += probs[e];
            }
            for (int e = 0; e < experts; e++) {
                probs[e] /= sum;
            }
            float topSum = 0;
            for (int j = 0; j < k; j++) {
                int best = select(experts, j, ids, i * k);
                ids.setAtIndex(I32, i * k + j, best);
                topSum += probs[best];
            }
            for (int j = 0; j < k; j++) {
                weights.setAtIndex(F32, i * k + j, probs[ids.getAtIndex(I32, i * k + j)] / topSum);
            }
        }
    }

    /** The most probable expert not among the {@code taken} already written at {@code ids[from..]}. */
    private int select(int experts, int taken, MemorySegment ids, long from) {
        int best = -1;
        for (int e = 0; e < experts; e++) {
            if ((best < 0 || probs[e] > probs[best]) && !isTaken(e, taken, ids, from)) {
                best = e;
            }
        }
        return best;
    }

    private static boolean isTaken(int expert, int taken, MemorySegment ids, long from) {
        for (int j = 0; j < taken; j++) {
            if (ids.getAtIndex(I32, from + j) == expert) {
                return true;
            }
        }
        return false;
    }
}
