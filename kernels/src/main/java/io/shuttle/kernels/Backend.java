package io.shuttle.kernels;

import java.lang.foreign.MemorySegment;

/**
 * The device-neutral set of primitives the transformer needs. A backend owns the memory it
 * allocates and runs every operation over tensors it allocated (or, for host backends, over
 * memory-mapped weights). Operations are batched: the first dimension is always the token (row)
 * dimension, so one call serves a whole micro-batch.
 *
 * <p>Conventions that every implementation honours:
 * <ul>
 *   <li>Activations are F32. Weights may be F32, BF16 or F16; math accumulates in F32.</li>
 *   <li>Linear weights use the Hugging Face {@code [out_features, in_features]} layout, so
 *       {@link #matmul} computes {@code x · wᵀ}.</li>
 *   <li>Index tensors (token ids, positions, slots, block tables, expert ids) are I32.</li>
 *   <li>Shapes and dtypes are checked at the call; a mismatch throws
 *       {@link IllegalArgumentException} naming the operand.</li>
 *   <li>Calls are synchronous from the caller's point of view: when a method returns, its
 *       output may be read with {@link #copyToHost}.</li>
 * </ul>
 * A backend is chosen once, when the process is wired, and passed to the stages by constructor.
 */
public interface Backend extends AutoCloseable {

    /** Short name for logs and benchmark output, e.g. {@code "cpu(vector 512-bit, 2 threads)"}. */
    String name();

    // ---- memory ---------------------------------------------------------------------------

    /** A zeroed tensor in this backend's memory; valid until {@link #release} or {@link #close}. */
    Tensor allocate(DType dtype, long... shape);

    /** Frees a tensor returned by {@link #allocate}. Releasing anything else is an error. */
    void release(Tensor tensor);

    /**
     * Makes a host weight tensor (typically a slice of a memory-mapped checkpoint) usable by this
     * backend. Host backends return it unchanged (no copy); device backends upload it.
     */
    Tensor prepareWeight(Tensor hostWeight);

    /**
     * {@link #prepareWeight} for a linear layer's {@code [out, in]} weight that will only ever be
     * {@link #matmul}'s {@code w}: the backend may store it in a layout of its own (the result is
     * then {@link Tensor#isPacked() packed} and accepted by nothing but matmul). The CPU backend
     * repacks BF16 weights so its kernels read them without horizontal reductions; others
     * prepare them as any weight.
     */
    default Tensor prepareLinear(Tensor hostWeight) {
        return prepareWeight(hostWeight);
    }

    /** Copies {@code src} (this backend's memory) to host memory {@code dst} (at least src.byteSize()). */
    void copyToHost(Tensor src, MemorySegment dst);

    /** Copies host memory {@code src} into {@code dst} (this backend's memory), dst.byteSize() bytes. */
    void copyFromHost(MemorySegment src, Tensor dst);

    /** dst ← src, same dtype and element count. */
    void copy(Tensor src, Tensor dst);

    /** Sets every element of {@code t} to zero. */
    void zero(Tensor t);

    // ---- dense math -----------------------------------------------------------------------

    /** {@code out[n, m] = x[n, k] · w[m, k]ᵀ}; x and out F32, w F32/BF16/F16. */
    void matmul(Tensor x, Tensor w, Tensor out);

    /**
     * {@code outs[j] = x · ws[j]ᵀ} for every j: several projections of the same input (Q/K/V,
     * gate/up) in one call, which a parallel backend can run as one job instead of one per
     * matrix. Each {@code (x, ws[j], outs[j])} follows {@link #matmul}'s rules; the outputs must
     * not overlap one another.
     */
    default void matmulMany(Tensor x, Tensor[] ws, Tensor[] outs) {
        Checks.matmulMany(x, ws, outs);
        for (int j = 0; j < ws.length; j++) {
            matmul(x, ws[j], outs[j]);
        }
    }

    /** Row-wise RMSNorm: {@code out = x / sqrt(mean(x²) + eps) * weight}; x, out [n, d] F32 (may alias), weight [d]. */
    void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out);

    /** {@code out = a + b} element-wise, F32, same shape; out may alias a or b. */
    void add(Tensor a, Tensor b, Tensor out);

    /** SwiGLU's gate: {@code out = silu(gate) ⊙ up}, F32 [n, f]; out may alias gate or up. */
    void siluMul(Tensor gate, Tensor up, Tensor out);

    /** Embedding lookup: {@code out[i] = table[ids[i]]} as F32; table [V, d] any float dtype, ids I32 [n]. */
    void embedding(Tensor table, Tensor ids, Tensor out);

    // ---- attention ------------------------------------------------------------------------

    /**
     * Rotary position embedding in place, Hugging Face "rotate_half" layout: within each head the
     * first half of the dimensions pairs with the second half; {@code inv_freq[i] = theta^(-2i/headDim)}.
     *
     * @param x         [n, numHeads * headDim] F32, rotated in place
     * @param positions I32 [n], the absolute position of each row
     */
    void rope(Tensor x, Tensor positions, int numHeads, int headDim, float theta);

    /**
     * Stores keys and values of {@code n} tokens into the paged cache.
     *
     * @param k      [n, kvDim] F32 (kvDim = numKvHeads * headDim)
     * @param v      [n, kvDim] F32
     * @param kCache [numSlots, kvDim] F32, numSlots = numBlocks * blockSize
     * @param vCache [numSlots, kvDim] F32
     * @param slots  I32 [n], the cache slot (block * blockSize + offset) of each token
     */
    void writeKv(Tensor k, Tensor v, Tensor kCache, Tensor vCache, Tensor slots);

    /**
     * Causal attention of each query row over its own sequence's cached keys and values,
     * positions {@code 0 .. tokenPos[i]} inclusive, with grouped-query heads (query head h reads
     * KV head {@code h / (numHeads / numKvHeads)}) and scale {@code 1/sqrt(headDim)}. The keys and
     * values of the query tokens themselves must already be in the cache ({@link #writeKv}).
     *
     * @param q   [n, numHeads * headDim] F32
     * @param out [n, numHeads * headDim] F32
     */
    void pagedAttention(Tensor q, Tensor kCache, Tensor vCache, PagedAttentionMeta meta,
                        int numHeads, int numKvHeads, int headDim, Tensor out);

    // ---- mixture of experts ---------------------------------------------------------------

    /**
     * Mixtral routing: softmax over all experts in F32, take the top {@code k} (descending
     * probability, ties to the lower expert id), renormalise the k probabilities to sum to 1.
     *
     * @param logits  [n, numExperts] F32
     * @param ids     I32 [n, k], written
     * @param weights F32 [n, k], written
     */
    void routerTopK(Tensor logits, int k, Tensor ids, Tensor weights);

    /** {@code out[i] = src[index[i]]}; src [N, d], index I32 [r], out [r, d], F32. */
    void gatherRows(Tensor src, Tensor index, Tensor out);

    /**
     * {@code out[index[i]] += scale[i] * src[i]}; src [r, d] F32, index I32 [r] (distinct within
     * one call), scale F32 [r], out [N, d] F32.
     */
    void scatterAddRows(Tensor src, Tensor index, Tensor scale, Tensor out);

    @Override
    void close();
}
