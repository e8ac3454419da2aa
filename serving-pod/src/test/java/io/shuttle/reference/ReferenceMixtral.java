package io.shuttle.reference;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Float64, full-recompute Mixtral, written from Hugging Face {@code transformers}' {@code modeling_mixtral.py}
 * semantics as the oracle the engine is tested against. Weights are read as doubles from a checkpoint folder.
 *
 * <p>Deliberately plain: nested loops over {@code double[][]}, one method per HF module ({@link #rmsNorm},
 * {@link #rotary}, {@link #attention}, {@link #moe}, {@link #decoderLayer}), no cache, no batching, no sharing with
 * {@code io.shuttle.engine} or the kernels. Everything is computed in float64, also where HF computes in float32
 * (rotary angles, router softmax), so the reference is the exact-arithmetic answer the engine approximates.
 */
public final class ReferenceMixtral {

    /**
     * One greedy run.
     *
     * @param ids              the generated token ids, {@code maxNewTokens} of them
     * @param stepLogits       {@code stepLogits[i]} are the logits {@code ids[i]} was chosen from, i.e. the logits at
     *                         position {@code prompt.length - 1 + i} of the sequence prompt + ids; so
     *                         {@code stepLogits[0]} equals {@code lastPromptLogits}, and {@code stepLogits[i]} for
     *                         i ≥ 1 is what a decode step that consumes {@code ids[i - 1]} must produce
     * @param lastPromptLogits the logits at the last prompt position (what prefill must produce)
     */
    public record Generation(int[] ids, double[][] stepLogits, double[] lastPromptLogits) {
    }

    /** The tensors of one {@code MixtralDecoderLayer}; matrices are nn.Linear {@code [out][in]}. */
    private record Layer(double[] inputNorm, double[][] wq, double[][] wk, double[][] wv, double[][] wo,
                         double[] postAttentionNorm, double[][] gate, Expert[] experts) {
    }

    /** {@code MixtralBlockSparseTop2MLP}: w1 = gate projection, w3 = up projection, w2 = down projection. */
    private record Expert(double[][] w1, double[][] w2, double[][] w3) {
    }

    /** The experts chosen for one token and their renormalised weights, in descending probability. */
    record Routing(int[] experts, double[] weights) {
    }

    private final ReferenceConfig config;
    private final double[][] embedTokens; // [vocab][hidden]
    private final Layer[] layers;
    private final double[] finalNorm;     // [hidden]
    private final double[][] lmHead;      // [vocab][hidden]; the embedding matrix itself when tied

    private ReferenceMixtral(ReferenceConfig config, double[][] embedTokens, Layer[] layers, double[] finalNorm,
                             double[][] lmHead) {
        this.config = config;
        this.embedTokens = embedTokens;
        this.layers = layers;
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
    }

    /** Reads {@code config.json} and the safetensors (single file or sharded with an index) from {@code checkpointDir}. */
    public static ReferenceMixtral load(Path checkpointDir) {
        Path configFile = checkpointDir.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new IllegalArgumentException("no config.json in " + checkpointDir);
        }
        ReferenceConfig c = ReferenceConfig.read(configFile);
        SafetensorsReader st = SafetensorsReader.openCheckpoint(checkpointDir);
        int h = c.hidden();
        int qDim = c.heads() * c.headDim();
        int kvDim = c.kvHeads() * c.headDim();
        double[][] embed = st.matrix("model.embed_tokens.weight", c.vocab(), h);
        Layer[] layers = new Layer[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            String p = "model.layers." + l + ".";
            Expert[] experts = new Expert[c.experts()];
            for (int e = 0; e < c.experts(); e++) {
                String ep = p + "block_sparse_moe.experts." + e + ".";
                experts[e] = new Expert(
                        st.matrix(ep + "w1.weight", c.intermediate(), h),
                        st.matrix(ep + "w2.weight", h, c.intermediate()),
                        st.matrix(ep + "w3.weight", c.intermediate(), h));
            }
            layers[l] = new Layer(
                    st.vector(p + "input_layernorm.weight", h),
                    st.matrix(p + "self_attn.q_proj.weight", qDim, h),
                    st.matrix(p + "self_attn.k_proj.weight", kvDim, h),
                    st.matrix(p + "self_attn.v_proj.weight", kvDim, h),
                    st.matrix(p + "self_attn.o_proj.weight", h, qDim),
                    st.vector(p + "post_attention_layernorm.weight", h),
                    st.matrix(p + "block_sparse_moe.gate.weight", c.experts(), h),
                    experts);
        }
        double[] norm = st.vector("model.norm.weight", h);
        // MixtralForCausalLM._tied_weights_keys = ["lm_head.weight"]: when tied, lm_head *is* embed_tokens.
        double[][] lmHead;
        if (c.tieEmbeddings()) {
            lmHead = embed;
        } else if (st.contains("lm_head.weight")) {
            lmHead = st.matrix("lm_head.weight", c.vocab(), h);
        } else {
            throw new IllegalArgumentException(checkpointDir + ": tie_word_embeddings is false but there is no "
                    + "lm_head.weight tensor");
        }
        return new ReferenceMixtral(c, embed, layers, norm, lmHead);
    }

    public int vocabSize() {
        return config.vocab();
    }

    /** Logits for every position of the given token sequence: {@code [len][vocab]}. Full recompute, no cache. */
    public double[][] forward(int[] tokens) {
        double[][] hidden = finalHiddenStates(tokens);
        double[][] logits = new double[tokens.length][];
        for (int t = 0; t < tokens.length; t++) {
            logits[t] = linear(lmHead, hidden[t]); // MixtralForCausalLM: logits = lm_head(hidden_states)
        }
        return logits;
    }

    /**
     * Greedy generation by full recompute each step; ties go to the lowest token id.
     * See {@link Generation} for which logits each entry holds.
     */
    public Generation greedy(int[] prompt, int maxNewTokens) {
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("maxNewTokens must be at least 1, got " + maxNewTokens);
        }
        int[] sequence = Arrays.copyOf(prompt, prompt.length + maxNewTokens);
        int[] ids = new int[maxNewTokens];
        double[][] stepLogits = new double[maxNewTokens][];
        for (int i = 0; i < maxNewTokens; i++) {
            int len = prompt.length + i;
            double[][] hidden = finalHiddenStates(Arrays.copyOf(sequence, len));
            stepLogits[i] = linear(lmHead, hidden[len - 1]);
            ids[i] = argmax(stepLogits[i]);
            sequence[len] = ids[i];
        }
        return new Generation(ids, stepLogits, stepLogits[0].clone());
    }

    /**
     * The router's softmax probabilities {@code [layer][position][expert]} for {@code tokens}, so engine tests can
     * tell a real routing bug from a near-tie that float32 arithmetic may legitimately resolve the other way.
     */
    public double[][][] routerProbabilities(int[] tokens) {
        double[][][] probs = new double[layers.length][tokens.length][];
        double[][] x = embed(tokens);
        for (int l = 0; l < layers.length; l++) {
            x = decoderLayer(layers[l], x, probs[l]);
        }
        return probs;
    }

    /**
     * The smallest gap, over all layers and positions, between the k-th and (k+1)-th largest router logit
     * (k = num_experts_per_tok), i.e. {@code log p_k - log p_(k+1)}; {@code +Infinity} when every expert is selected.
     * Logit units, because float32 error perturbs router logits by a roughly fixed amount (about 1e-5 at these
     * sizes) whatever the probabilities: below ~1e-4 a float32 engine may pick a different expert set than this
     * reference without either being wrong.
     */
    public double minRoutingMargin(int[] tokens) {
        if (config.topK() == config.experts()) {
            return Double.POSITIVE_INFINITY;
        }
        double min = Double.POSITIVE_INFINITY;
        for (double[][] layer : routerProbabilities(tokens)) {
            for (double[] p : layer) {
                double[] sorted = p.clone();
                Arrays.sort(sorted);
                int kth = sorted.length - config.topK();
                min = Math.min(min, Math.log(sorted[kth]) - Math.log(sorted[kth - 1]));
            }
        }
        return min;
    }

    /** Index of the largest value; the first (lowest index) wins ties. */
    static int argmax(double[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }

    /** MixtralModel.forward: embed_tokens, the decoder layers, then the final norm. Positions are 0..len-1. */
    private double[][] finalHiddenStates(int[] tokens) {
        double[][] x = embed(tokens);
        for (Layer layer : layers) {
            x = decoderLayer(layer, x, null);
        }
        for (int t = 0; t < x.length; t++) {
            x[t] = rmsNorm(x[t], finalNorm, config.eps()); // self.norm
        }
        return x;
    }

    /** MixtralModel.embed_tokens (nn.Embedding): row {@code token} of the embedding matrix, per position. */
    private double[][] embed(int[] tokens) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("token sequence is empty");
        }
        double[][] x = new double[tokens.length][];
        for (int t = 0; t < tokens.length; t++) {
            if (tokens[t] < 0 || tokens[t] >= config.vocab()) {
                throw new IllegalArgumentException("token id " + tokens[t] + " at position " + t
                        + " is outside the vocabulary [0, " + config.vocab() + ")");
            }
            x[t] = embedTokens[tokens[t]].clone();
        }
        return x;
    }

    /**
     * MixtralDecoderLayer.forward: {@code h = x + self_attn(input_layernorm(x))};
     * {@code out = h + block_sparse_moe(post_attention_layernorm(h))}.
     *
     * @param routerProbs when not null, receives each position's router softmax ({@code [position][expert]})
     */
    private double[][] decoderLayer(Layer layer, double[][] x, double[][] routerProbs) {
        int len = x.length;
        double[][] normed = new double[len][];
        for (int t = 0; t < len; t++) {
            normed[t] = rmsNorm(x[t], layer.inputNorm(), config.eps());
        }
        double[][] attn = attention(layer, normed);
        double[][] h = new double[len][];
        for (int t = 0; t < len; t++) {
            h[t] = add(x[t], attn[t]);
        }
        double[][] out = new double[len][];
        for (int t = 0; t < len; t++) {
            double[] moeIn = rmsNorm(h[t], layer.postAttentionNorm(), config.eps());
            if (routerProbs != null) {
                routerProbs[t] = softmax(linear(layer.gate(), moeIn));
            }
            out[t] = add(h[t], moe(layer, moeIn));
        }
        return out;
    }

    /**
     * MixtralAttention.forward with eager_attention_forward: q/k/v projections, rotary on q and k at positions
     * 0..len-1, GQA via repeat_kv (attention head {@code a} reads KV head {@code a / (heads / kvHeads)}, since
     * repeat_kv expands each KV head into {@code n_rep} consecutive heads), scores scaled by {@code head_dim^-0.5},
     * causal (and, if configured, sliding-window) mask, softmax over keys, weighted sum of values, o_proj.
     */
    private double[][] attention(Layer layer, double[][] x) {
        int len = x.length;
        int hd = config.headDim();
        int nRep = config.heads() / config.kvHeads();
        double scaling = 1.0 / Math.sqrt(hd);
        double[][][] q = new double[len][][];  // [position][head][headDim], after rotary
        double[][][] k = new double[len][][];  // [position][kvHead][headDim], after rotary
        double[][][] v = new double[len][][];  // [position][kvHead][headDim]
        for (int t = 0; t < len; t++) {
            q[t] = splitHeads(linear(layer.wq(), x[t]), config.heads(), hd);
            k[t] = splitHeads(linear(layer.wk(), x[t]), config.kvHeads(), hd);
            v[t] = splitHeads(linear(layer.wv(), x[t]), config.kvHeads(), hd);
            for (int a = 0; a < config.heads(); a++) {
                q[t][a] = rotary(q[t][a], t, config.ropeTheta());
            }
            for (int g = 0; g < config.kvHeads(); g++) {
                k[t][g] = rotary(k[t][g], t, config.ropeTheta());
            }
        }
        double[][] out = new double[len][];
        for (int t = 0; t < len; t++) {
            double[] concat = new double[config.heads() * hd]; // attn_output.transpose(1, 2).reshape(len, -1)
            // create_causal_mask: key j visible iff j <= t; sliding_window_overlay adds j > t - window.
            int firstKey = config.slidingWindow() > 0 ? Math.max(0, t - config.slidingWindow() + 1) : 0;
            for (int a = 0; a < config.heads(); a++) {
                int g = a / nRep;
                double[] scores = new double[t + 1 - firstKey];
                for (int j = firstKey; j <= t; j++) {
                    scores[j - firstKey] = dot(q[t][a], k[j][g]) * scaling;
                }
                double[] p = softmax(scores);
                for (int j = firstKey; j <= t; j++) {
                    for (int d = 0; d < hd; d++) {
                        concat[a * hd + d] += p[j - firstKey] * v[j][g][d];
                    }
                }
            }
            out[t] = linear(layer.wo(), concat);
        }
        return out;
    }

    /**
     * MixtralSparseMoeBlock.forward for one token: {@code router_logits = gate(x)}, routing via {@link #route},
     * then {@code Σ_k w_k · expert_k(x)} with each expert {@code w2(silu(w1 x) * w3 x)}.
     */
    private double[] moe(Layer layer, double[] x) {
        Routing routing = route(linear(layer.gate(), x), config.topK());
        double[] out = new double[x.length];
        for (int i = 0; i < routing.experts().length; i++) {
            double[] y = expert(layer.experts()[routing.experts()[i]], x);
            for (int d = 0; d < out.length; d++) {
                out[d] += routing.weights()[i] * y[d];
            }
        }
        return out;
    }

    /** MixtralBlockSparseTop2MLP.forward: {@code w2(act_fn(w1(x)) * w3(x))} with act_fn = silu. */
    private static double[] expert(Expert e, double[] x) {
        double[] gate = linear(e.w1(), x);
        double[] up = linear(e.w3(), x);
        double[] m = new double[gate.length];
        for (int i = 0; i < m.length; i++) {
            m[i] = silu(gate[i]) * up[i];
        }
        return linear(e.w2(), m);
    }

    /**
     * The router step of MixtralSparseMoeBlock: {@code softmax(router_logits)}, {@code topk(k)},
     * {@code routing_weights /= routing_weights.sum()}. torch.topk's order among equal values is unspecified;
     * here the lower expert index wins a tie, and experts come out in descending probability.
     */
    static Routing route(double[] routerLogits, int topK) {
        if (topK < 1 || topK > routerLogits.length) {
            throw new IllegalArgumentException("top-k " + topK + " for " + routerLogits.length + " experts");
        }
        double[] probs = softmax(routerLogits);
        boolean[] taken = new boolean[probs.length];
        int[] experts = new int[topK];
        double[] weights = new double[topK];
        double sum = 0;
        for (int i = 0; i < topK; i++) {
            int best = -1;
            for (int e = 0; e < probs.length; e++) {
                if (!taken[e] && (best < 0 || probs[e] > probs[best])) {
                    best = e;
                }
            }
            taken[best] = true;
            experts[i] = best;
            weights[i] = probs[best];
            sum += probs[best];
        }
        for (int i = 0; i < topK; i++) {
            weights[i] /= sum;
        }
        return new Routing(experts, weights);
    }

    /** MixtralRMSNorm: {@code weight * (x * rsqrt(mean(x²) + eps))}. */
    static double[] rmsNorm(double[] x, double[] weight, double eps) {
        double sumSquares = 0;
        for (double value : x) {
            sumSquares += value * value;
        }
        double inv = 1.0 / Math.sqrt(sumSquares / x.length + eps);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = weight[i] * (x[i] * inv);
        }
        return out;
    }

    /**
     * apply_rotary_pos_emb for one head vector at {@code position}: {@code x * cos + rotate_half(x) * sin}, where
     * rotate_half(x) = cat(-x[half:], x[:half]) and cos/sin repeat the frequencies over both halves
     * ({@code emb = cat(freqs, freqs)}), with {@code inv_freq[i] = 1 / theta^(2i / dim)}. So element i pairs with
     * element i + dim/2 (the "rotate half" layout, not interleaved pairs).
     */
    static double[] rotary(double[] x, int position, double theta) {
        int dim = x.length;
        int half = dim / 2;
        double[] out = new double[dim];
        for (int i = 0; i < half; i++) {
            double invFreq = 1.0 / Math.pow(theta, (2.0 * i) / dim);
            double angle = position * invFreq;
            double cos = Math.cos(angle);
            double sin = Math.sin(angle);
            double x1 = x[i];
            double x2 = x[i + half];
            out[i] = x1 * cos - x2 * sin;        // x[i] * cos + (-x[i + half]) * sin
            out[i + half] = x2 * cos + x1 * sin; // x[i + half] * cos + x[i] * sin
        }
        return out;
    }

    /** Softmax computed with the maximum subtracted, which changes nothing mathematically but avoids overflow. */
    static double[] softmax(double[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (double l : logits) {
            max = Math.max(max, l);
        }
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            p[i] = Math.exp(logits[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    /** silu(x) = x * sigmoid(x). */
    static double silu(double x) {
        return x / (1.0 + Math.exp(-x));
    }

    /** nn.Linear without bias: {@code y[o] = Σ_i w[o][i] · x[i]}. */
    static double[] linear(double[][] w, double[] x) {
        double[] y = new double[w.length];
        for (int o = 0; o < w.length; o++) {
            y[o] = dot(w[o], x);
        }
        return y;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    private static double[] add(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i] + b[i];
        }
        return out;
    }

    /** view(len, -1, head_dim): head {@code h} owns elements {@code [h * headDim, (h + 1) * headDim)}. */
    private static double[][] splitHeads(double[] flat, int heads, int headDim) {
        double[][] out = new double[heads][headDim];
        for (int h = 0; h < heads; h++) {
            System.arraycopy(flat, h * headDim, out[h], 0, headDim);
        }
        return out;
    }
}
