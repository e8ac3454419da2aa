package io.shuttle.reference;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.shuttle.reference.ReferenceMixtral.Generation;
import io.shuttle.reference.ReferenceMixtral.Routing;
import io.shuttle.reference.SafetensorsWriter.DType;
import io.shuttle.reference.SafetensorsWriter.Tensor;
import io.shuttle.reference.TestCheckpoints.Spec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Self-checks of the reference Mixtral that do not involve the engine: hand-computed values and invariances. */
class ReferenceMixtralTest {

    @TempDir
    Path tmp;

    // ---------------------------------------------------------------- micro cases, values worked out by hand

    @Test
    void rmsNormOfKnownVector() {
        // mean(x²) = (1 + 4 + 9 + 16) / 4 = 7.5; with eps = 0.5 the divisor is sqrt(8).
        double[] out = ReferenceMixtral.rmsNorm(new double[]{1, 2, 3, 4}, new double[]{1, 1, 2, 0.5}, 0.5);
        double s = 1 / Math.sqrt(8);
        assertArrayEquals(new double[]{s, 2 * s, 2 * 3 * s, 0.5 * 4 * s}, out, 1e-15);
        assertArrayEquals(new double[]{0.35355339059327373, 0.7071067811865475, 2.1213203435596424, 0.7071067811865475},
                out, 1e-15);
        // eps = 0: divisor sqrt(7.5).
        double[] noEps = ReferenceMixtral.rmsNorm(new double[]{1, 2, 3, 4}, new double[]{1, 1, 2, 0.5}, 0);
        assertArrayEquals(new double[]{0.3651483716701107, 0.7302967433402214, 2.1908902300206643, 0.7302967433402214},
                noEps, 1e-15);
    }

    @Test
    void rotaryAtPositionZeroIsIdentity() {
        double[] x = {1, -2, 3.5, 4};
        assertArrayEquals(x, ReferenceMixtral.rotary(x, 0, 10000), 0);
    }

    @Test
    void rotaryAtPositionOnePairsElementIWithIPlusHalf() {
        // dim 4, theta 1e4: inv_freq = [1, 1e4^(-2/4)] = [1, 0.01]; pairs (x0, x2) turn by 1 rad, (x1, x3) by 0.01 rad.
        double[] out = ReferenceMixtral.rotary(new double[]{1, 2, 3, 4}, 1, 10000);
        double c1 = Math.cos(1), s1 = Math.sin(1), c2 = Math.cos(0.01), s2 = Math.sin(0.01);
        assertArrayEquals(new double[]{1 * c1 - 3 * s1, 2 * c2 - 4 * s2, 3 * c1 + 1 * s1, 4 * c2 + 2 * s2}, out, 1e-15);
        assertArrayEquals(new double[]{-1.9841106485555495, 1.959900667496664, 2.4623779024123156, 4.019799668334994},
                out, 1e-14);
        // Position 3 is the rotation by 1 applied three times (angles add), which the interleaved layout would break.
        double[] thrice = ReferenceMixtral.rotary(ReferenceMixtral.rotary(ReferenceMixtral.rotary(
                new double[]{1, 2, 3, 4}, 1, 10000), 1, 10000), 1, 10000);
        assertArrayEquals(thrice, ReferenceMixtral.rotary(new double[]{1, 2, 3, 4}, 3, 10000), 1e-14);
    }

    @Test
    void routerTakesTopKOfSoftmaxAndRenormalises() {
        double[] logits = {1, 3, 2, 0};
        Routing top2 = ReferenceMixtral.route(logits, 2);
        assertArrayEquals(new int[]{1, 2}, top2.experts());
        // e^3 / (e^3 + e^2) = 1 / (1 + e^-1)
        assertArrayEquals(new double[]{0.7310585786300049, 1 - 0.7310585786300049}, top2.weights(), 1e-15);

        Routing top1 = ReferenceMixtral.route(logits, 1);
        assertArrayEquals(new int[]{1}, top1.experts());
        assertArrayEquals(new double[]{1.0}, top1.weights(), 0);

        Routing all = ReferenceMixtral.route(logits, 4); // renormalising the full softmax changes nothing
        assertArrayEquals(new int[]{1, 2, 0, 3}, all.experts());
        assertArrayEquals(new double[]{0.6439142598879724, 0.23688281808991016, 0.08714431874203257,
                0.03205860328008499}, all.weights(), 1e-15);

        Routing tie = ReferenceMixtral.route(new double[]{2, 2, 1}, 1);
        assertArrayEquals(new int[]{0}, tie.experts(), "a tie goes to the lower expert index");
    }

    @Test
    void greedyArgmaxPrefersLowestIdOnTies() {
        assertEquals(1, ReferenceMixtral.argmax(new double[]{0.5, 2.0, -1, 2.0}));
        assertEquals(0, ReferenceMixtral.argmax(new double[]{3, 3, 3}));
    }

    // ---------------------------------------------------------------- a whole model worked out by hand

    /**
     * A 1-layer model with hidden 4, 2 query heads sharing 1 KV head (head_dim 2), 3 experts top-2, intermediate 2 and
     * vocab 3, with weights on a grid of multiples of 1/8 (exact in float32). The expected logits for a two-token
     * input are computed below by straight-line arithmetic that does not use ReferenceMixtral.
     */
    @Test
    void tinyModelMatchesStraightLineArithmetic() {
        Spec spec = new Spec(4, 2, 1, 2, 1, 2, 3, 2, 3, 10000, 1e-5, false);
        Map<String, Tensor> w = new LinkedHashMap<>();
        double[][] embed = grid(3, 4, 1);
        double[] g1 = gridVector(4, 2);
        double[][] wq = grid(4, 4, 3), wk = grid(2, 4, 4), wv = grid(2, 4, 5), wo = grid(4, 4, 6);
        double[] g2 = gridVector(4, 4);
        double[][] gate = grid(3, 4, 8);
        double[][][] w1 = new double[3][][], w2 = new double[3][][], w3 = new double[3][][];
        for (int e = 0; e < 3; e++) {
            w1[e] = grid(2, 4, 10 + 3 * e);
            w2[e] = grid(4, 2, 11 + 3 * e);
            w3[e] = grid(2, 4, 12 + 3 * e);
        }
        double[] gf = gridVector(4, 20);
        double[][] lm = grid(3, 4, 21);
        assertFalse(Arrays.equals(g1, g2) || Arrays.equals(g1, gf) || Arrays.equals(g2, gf),
                "the three norms must differ, or a mix-up between them would go unnoticed");
        w.put("model.embed_tokens.weight", tensor(embed));
        w.put("model.layers.0.input_layernorm.weight", tensor(g1));
        w.put("model.layers.0.self_attn.q_proj.weight", tensor(wq));
        w.put("model.layers.0.self_attn.k_proj.weight", tensor(wk));
        w.put("model.layers.0.self_attn.v_proj.weight", tensor(wv));
        w.put("model.layers.0.self_attn.o_proj.weight", tensor(wo));
        w.put("model.layers.0.post_attention_layernorm.weight", tensor(g2));
        w.put("model.layers.0.block_sparse_moe.gate.weight", tensor(gate));
        for (int e = 0; e < 3; e++) {
            String p = "model.layers.0.block_sparse_moe.experts." + e + ".";
            w.put(p + "w1.weight", tensor(w1[e]));
            w.put(p + "w2.weight", tensor(w2[e]));
            w.put(p + "w3.weight", tensor(w3[e]));
        }
        w.put("model.norm.weight", tensor(gf));
        w.put("lm_head.weight", tensor(lm));
        ReferenceMixtral model = ReferenceMixtral.load(TestCheckpoints.write(tmp.resolve("tiny"), spec, w, DType.F32));

        int[] tokens = {2, 0};
        double eps = 1e-5;
        // Embedding and input_layernorm.
        double[] x0 = embed[2], x1 = embed[0];
        double[] n0 = handRms(x0, g1, eps), n1 = handRms(x1, g1, eps);
        // Projections; q head a is elements [2a, 2a+1]; the single KV head serves both query heads.
        double[] q0 = handMatVec(wq, n0), q1 = handMatVec(wq, n1);
        double[] k0 = handMatVec(wk, n0), k1 = handMatVec(wk, n1);
        double[] v0 = handMatVec(wv, n0), v1 = handMatVec(wv, n1);
        // Rotary: head_dim 2 means one frequency, inv_freq = theta^0 = 1, so position p turns (a, b) by p radians.
        double c = Math.cos(1), s = Math.sin(1);
        double[] k1r = {k1[0] * c - k1[1] * s, k1[1] * c + k1[0] * s};
        double[] q1h0 = {q1[0] * c - q1[1] * s, q1[1] * c + q1[0] * s};
        double[] q1h1 = {q1[2] * c - q1[3] * s, q1[3] * c + q1[2] * s};
        // Position 0 sees only itself: the softmax weight is 1, each head outputs v0.
        double[] attn0 = handMatVec(wo, new double[]{v0[0], v0[1], v0[0], v0[1]});
        // Position 1: scores scaled by 1/sqrt(2), softmax over the keys at positions 0 and 1.
        double r2 = Math.sqrt(2);
        double a00 = (q1h0[0] * k0[0] + q1h0[1] * k0[1]) / r2, a01 = (q1h0[0] * k1r[0] + q1h0[1] * k1r[1]) / r2;
        double a10 = (q1h1[0] * k0[0] + q1h1[1] * k0[1]) / r2, a11 = (q1h1[0] * k1r[0] + q1h1[1] * k1r[1]) / r2;
        double p00 = Math.exp(a00) / (Math.exp(a00) + Math.exp(a01)), p01 = 1 - p00;
        double p10 = Math.exp(a10) / (Math.exp(a10) + Math.exp(a11)), p11 = 1 - p10;
        double[] attn1 = handMatVec(wo, new double[]{
                p00 * v0[0] + p01 * v1[0], p00 * v0[1] + p01 * v1[1],
                p10 * v0[0] + p11 * v1[0], p10 * v0[1] + p11 * v1[1]});
        double[][] expected = new double[2][];
        double[][] residual = {handAdd(x0, attn0), handAdd(x1, attn1)};
        assertEquals(2, model.forward(tokens).length);
        for (int t = 0; t < 2; t++) {
            double[] h = residual[t];
            double[] m = handRms(h, g2, eps);
            double[] router = handMatVec(gate, m);
            double[] prob = new double[3];
            double z = Math.exp(router[0]) + Math.exp(router[1]) + Math.exp(router[2]);
            for (int e = 0; e < 3; e++) {
                prob[e] = Math.exp(router[e]) / z;
            }
            assertTrue(prob[0] != prob[1] && prob[1] != prob[2] && prob[0] != prob[2], "no routing tie");
            // Top-2 = every expert except the least likely one; renormalise the two kept probabilities.
            int dropped = prob[0] < prob[1] ? (prob[0] < prob[2] ? 0 : 2) : (prob[1] < prob[2] ? 1 : 2);
            double kept = 1 - prob[dropped];
            double[] moe = new double[4];
            for (int e = 0; e < 3; e++) {
                if (e == dropped) {
                    continue;
                }
                double[] a = handMatVec(w1[e], m), b = handMatVec(w3[e], m);
                double[] act = {a[0] / (1 + Math.exp(-a[0])) * b[0], a[1] / (1 + Math.exp(-a[1])) * b[1]};
                double[] y = handMatVec(w2[e], act);
                for (int d = 0; d < 4; d++) {
                    moe[d] += prob[e] / kept * y[d];
                }
            }
            expected[t] = handMatVec(lm, handRms(handAdd(h, moe), gf, eps));
        }
        double[][] logits = model.forward(tokens);
        for (int t = 0; t < 2; t++) {
            assertArrayEquals(expected[t], logits[t], 1e-12, "position " + t);
        }
        // A second order of the same tokens gives different logits at position 1 (the attention really mixes).
        assertFalse(Arrays.equals(logits[1], model.forward(new int[]{1, 0})[1]));
    }

    // ---------------------------------------------------------------- properties on random checkpoints

    @Test
    void logitsAtPositionIDoNotDependOnLaterTokens() {
        ReferenceMixtral model = ReferenceMixtral.load(
                TestCheckpoints.write(tmp.resolve("gqa"), TestCheckpoints.GQA, 11, DType.F32));
        int[] a = randomTokens(20, TestCheckpoints.GQA.vocab(), 5);
        int[] b = a.clone();
        for (int t = 10; t < b.length; t++) {
            b[t] = (a[t] + 1 + t) % TestCheckpoints.GQA.vocab();
        }
        double[][] la = model.forward(a);
        double[][] lb = model.forward(b);
        for (int t = 0; t < 10; t++) {
            assertArrayEquals(la[t], lb[t], 0, "position " + t + " must not see later tokens");
        }
        for (int t = 10; t < 20; t++) {
            assertFalse(Arrays.equals(la[t], lb[t]), "position " + t + " sees its own, changed, token");
        }
        // A prefix run reproduces the same rows: nothing depends on the sequence length.
        double[][] prefix = model.forward(Arrays.copyOf(a, 10));
        for (int t = 0; t < 10; t++) {
            assertArrayEquals(la[t], prefix[t], 0);
        }
    }

    @Test
    void identicalExpertsMakeTopKIrrelevantBecauseWeightsAreRenormalised() {
        Spec spec = TestCheckpoints.GQA;
        Map<String, Tensor> w = TestCheckpoints.randomWeights(spec, 21);
        for (int l = 0; l < spec.layers(); l++) {
            String p = "model.layers." + l + ".block_sparse_moe.experts.";
            for (int e = 1; e < spec.experts(); e++) {
                for (String m : new String[]{"w1", "w2", "w3"}) {
                    w.put(p + e + "." + m + ".weight", w.get(p + "0." + m + ".weight"));
                }
            }
        }
        int[] tokens = randomTokens(12, spec.vocab(), 6);
        double[][] top1 = ReferenceMixtral.load(TestCheckpoints.write(tmp.resolve("k1"), spec.withTopK(1), w,
                DType.F32)).forward(tokens);
        for (int k = 2; k <= spec.experts(); k++) {
            double[][] topK = ReferenceMixtral.load(TestCheckpoints.write(tmp.resolve("k" + k), spec.withTopK(k), w,
                    DType.F32)).forward(tokens);
            for (int t = 0; t < tokens.length; t++) {
                assertArrayEquals(top1[t], topK[t], 1e-11, "top-" + k + " position " + t);
            }
        }
        // Control: with the original (distinct) experts, top-1 and top-2 disagree.
        Map<String, Tensor> distinct = TestCheckpoints.randomWeights(spec, 21);
        double[][] d1 = ReferenceMixtral.load(TestCheckpoints.write(tmp.resolve("d1"), spec.withTopK(1), distinct,
                DType.F32)).forward(tokens);
        double[][] d2 = ReferenceMixtral.load(TestCheckpoints.write(tmp.resolve("d2"), spec.withTopK(2), distinct,
                DType.F32)).forward(tokens);
        assertTrue(maxAbsDiff(d1, d2) > 1e-3);
    }

    @Test
    void groupedQueryAttentionEqualsMultiHeadWithEachKvHeadRepeatedInPlace() {
        Spec gqa = TestCheckpoints.GQA;  // 4 heads, 2 KV heads: heads 0,1 read KV head 0; heads 2,3 read KV head 1
        Spec mha = new Spec(gqa.hidden(), gqa.intermediate(), gqa.layers(), gqa.heads(), gqa.heads(), gqa.headDim(),
                gqa.experts(), gqa.topK(), gqa.vocab(), gqa.ropeTheta(), gqa.eps(), gqa.tieEmbeddings());
        Map<String, Tensor> w = TestCheckpoints.randomWeights(gqa, 31);
        Map<String, Tensor> interleaved = new LinkedHashMap<>(w);
        Map<String, Tensor> tiled = new LinkedHashMap<>(w);
        for (int l = 0; l < gqa.layers(); l++) {
            for (String proj : new String[]{"k_proj", "v_proj"}) {
                String name = "model.layers." + l + ".self_attn." + proj + ".weight";
                interleaved.put(name, repeatHeads(w.get(name), gqa.headDim(), new int[]{0, 0, 1, 1}));
                tiled.put(name, repeatHeads(w.get(name), gqa.headDim(), new int[]{0, 1, 0, 1}));
            }
        }
        int[] tokens = randomTokens(15, gqa.vocab(), 7);
        double[][] g = ReferenceMixtral.load(TestCheckpoints.write(tmp.resolve("g"), gqa, w, DType.F32))
                .forward(tokens);
        double[][] m = ReferenceMixtral.load(TestCheckpoints.write(tmp.resolve("m"), mha, interleaved, DType.F32))
                .forward(tokens);
        double[][] wrong = ReferenceMixtral.load(TestCheckpoints.write(tmp.resolve("t"), mha, tiled, DType.F32))
                .forward(tokens);
        assertTrue(maxAbsDiff(g, m) < 1e-12, "repeat_kv repeats each KV head for consecutive query heads");
        assertTrue(maxAbsDiff(g, wrong) > 1e-3, "the tiled mapping is a different model");
    }

    @Test
    void tiedEmbeddingsUseTheEmbeddingMatrixAsLmHead() {
        Spec tied = TestCheckpoints.TIED;
        Map<String, Tensor> w = TestCheckpoints.randomWeights(tied, 41);
        assertFalse(w.containsKey("lm_head.weight"));
        Map<String, Tensor> untied = new LinkedHashMap<>(w);
        untied.put("lm_head.weight", w.get("model.embed_tokens.weight"));
        int[] tokens = randomTokens(9, tied.vocab(), 8);
        double[][] a = ReferenceMixtral.load(TestCheckpoints.write(tmp.resolve("tied"), tied, w, DType.BF16))
                .forward(tokens);
        double[][] b = ReferenceMixtral.load(TestCheckpoints.write(tmp.resolve("untied"),
                tied.withTiedEmbeddings(false), untied, DType.BF16)).forward(tokens);
        assertTrue(maxAbsDiff(a, b) == 0);
        // Untied without an lm_head tensor is a broken checkpoint and must say so.
        Path broken = TestCheckpoints.write(tmp.resolve("broken"), tied.withTiedEmbeddings(false), w, DType.F32);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ReferenceMixtral.load(broken));
        assertTrue(e.getMessage().contains("lm_head.weight"), e.getMessage());
    }

    @Test
    void slidingWindowLimitsOneLayerToTheLastWindowTokens() throws IOException {
        // With one layer and window 3, position t sees tokens t-2..t only; RoPE depends only on relative position,
        // so its logits equal those of the last position of the 3-token window run on its own.
        Spec oneLayer = new Spec(32, 64, 1, 4, 2, 8, 4, 2, 64, 1e4, 1e-5, false);
        Path dir = TestCheckpoints.write(tmp.resolve("window"), oneLayer, 51, DType.F32);
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(dir.resolve("config.json").toFile());
        config.put("sliding_window", 3);
        Files.writeString(dir.resolve("config.json"), json.writeValueAsString(config));
        ReferenceMixtral windowed = ReferenceMixtral.load(dir);
        int[] tokens = randomTokens(10, oneLayer.vocab(), 9);
        double[][] full = windowed.forward(tokens);
        for (int t = 2; t < tokens.length; t++) {
            double[][] alone = windowed.forward(Arrays.copyOfRange(tokens, t - 2, t + 1));
            assertArrayEquals(alone[2], full[t], 1e-9, "position " + t);
        }
        // Control: without the window, position 9 depends on token 0.
        ReferenceMixtral unwindowed = ReferenceMixtral.load(TestCheckpoints.write(tmp.resolve("nowindow"), oneLayer,
                51, DType.F32));
        double[][] plain = unwindowed.forward(tokens);
        assertTrue(maxAbsDiff(new double[][]{plain[9]}, new double[][]{full[9]}) > 1e-6);
    }

    @Test
    void greedyStepsMatchFullForwardOfTheGeneratedSequence() {
        ReferenceMixtral model = ReferenceMixtral.load(
                TestCheckpoints.write(tmp.resolve("top3"), TestCheckpoints.TOP3, 61, DType.BF16));
        int[] prompt = randomTokens(7, TestCheckpoints.TOP3.vocab(), 10);
        Generation g = model.greedy(prompt, 6);
        assertEquals(6, g.ids().length);
        assertEquals(6, g.stepLogits().length);
        int[] all = Arrays.copyOf(prompt, prompt.length + g.ids().length);
        System.arraycopy(g.ids(), 0, all, prompt.length, g.ids().length);
        double[][] full = model.forward(all);
        assertArrayEquals(full[prompt.length - 1], g.lastPromptLogits(), 0);
        for (int i = 0; i < g.ids().length; i++) {
            assertArrayEquals(full[prompt.length - 1 + i], g.stepLogits()[i], 0, "step " + i);
            assertEquals(ReferenceMixtral.argmax(full[prompt.length - 1 + i]), g.ids()[i]);
        }
    }

    @Test
    void everyPresetLoadsAndRunsWithFiniteDistinctLogits() {
        int i = 0;
        for (Spec spec : TestCheckpoints.presets()) {
            ReferenceMixtral model = ReferenceMixtral.load(
                    TestCheckpoints.write(tmp.resolve("preset" + i++), spec, 71, DType.BF16));
            double[][] logits = model.forward(randomTokens(6, spec.vocab(), 11));
            for (double[] row : logits) {
                assertEquals(spec.vocab(), row.length);
                for (double v : row) {
                    assertTrue(Double.isFinite(v), spec.toString());
                }
            }
            assertNotEquals(logits[4][0], logits[5][0], spec.toString());
        }
    }

    @Test
    void routerProbabilitiesAreTheSoftmaxTheMoeUses() {
        Spec spec = TestCheckpoints.TOP2;
        ReferenceMixtral model = ReferenceMixtral.load(TestCheckpoints.write(tmp.resolve("r"), spec, 3, DType.F32));
        int[] tokens = randomTokens(16, spec.vocab(), 13);
        double[][][] probs = model.routerProbabilities(tokens);
        assertEquals(spec.layers(), probs.length);
        double min = Double.POSITIVE_INFINITY;
        for (double[][] layer : probs) {
            assertEquals(tokens.length, layer.length);
            for (double[] p : layer) {
                assertEquals(spec.experts(), p.length);
                assertEquals(1.0, Arrays.stream(p).sum(), 1e-12);
                double[] sorted = p.clone();
                Arrays.sort(sorted);
                min = Math.min(min, Math.log(sorted[spec.experts() - 2] / sorted[spec.experts() - 3]));
            }
        }
        assertEquals(min, model.minRoutingMargin(tokens), 1e-12);
        assertTrue(min > 0);
        // Top-k over all experts has no decision to get wrong.
        ReferenceMixtral all = ReferenceMixtral.load(TestCheckpoints.write(tmp.resolve("all"),
                spec.withTopK(spec.experts()), 3, DType.F32));
        assertEquals(Double.POSITIVE_INFINITY, all.minRoutingMargin(tokens));
    }

    @Test
    void largestPresetGreedyIsFastEnoughForEngineTests() {
        Spec spec = TestCheckpoints.MIXTRAL_SHAPED;
        ReferenceMixtral model = ReferenceMixtral.load(TestCheckpoints.write(tmp.resolve("big"), spec, 81, DType.BF16));
        long start = System.nanoTime();
        Generation g = model.greedy(randomTokens(40, spec.vocab(), 12), 12);
        double seconds = (System.nanoTime() - start) / 1e9;
        assertEquals(12, g.ids().length);
        assertTrue(seconds < 30, "greedy 40+12 tokens took " + seconds + " s");
    }

    @Test
    void badInputsAreRejectedWithClearMessages() {
        ReferenceMixtral model = ReferenceMixtral.load(
                TestCheckpoints.write(tmp.resolve("gqa"), TestCheckpoints.GQA, 91, DType.F32));
        IllegalArgumentException outOfVocab = assertThrows(IllegalArgumentException.class,
                () -> model.forward(new int[]{1, 256}));
        assertTrue(outOfVocab.getMessage().contains("256"), outOfVocab.getMessage());
        assertThrows(IllegalArgumentException.class, () -> model.forward(new int[0]));
        assertThrows(IllegalArgumentException.class, () -> model.greedy(new int[]{1}, 0));

        Map<String, Tensor> missing = TestCheckpoints.randomWeights(TestCheckpoints.GQA, 91);
        missing.remove("model.layers.1.block_sparse_moe.experts.3.w2.weight");
        Path dir = TestCheckpoints.write(tmp.resolve("missing"), TestCheckpoints.GQA, missing, DType.F32);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ReferenceMixtral.load(dir));
        assertTrue(e.getMessage().contains("model.layers.1.block_sparse_moe.experts.3.w2.weight"), e.getMessage());

        // A checkpoint whose tensors disagree with config.json (here: more KV heads claimed than stored).
        Spec claimsMha = new Spec(64, 128, 2, 4, 4, 16, 4, 2, 256, 1e6, 1e-5, false);
        Path mismatched = TestCheckpoints.write(tmp.resolve("mismatch"), claimsMha,
                TestCheckpoints.randomWeights(TestCheckpoints.GQA, 91), DType.F32);
        IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
                () -> ReferenceMixtral.load(mismatched));
        assertTrue(shape.getMessage().contains("k_proj") && shape.getMessage().contains("[32, 64]"),
                shape.getMessage());
    }

    // ---------------------------------------------------------------- helpers (independent of ReferenceMixtral)

    /** A rows×cols grid of multiples of 1/8 in [-0.5, 0.5], different per salt; exact in float32. */
    private static double[][] grid(int rows, int cols, int salt) {
        double[][] m = new double[rows][cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                m[i][j] = (((i * 5 + j * 3 + salt * 7 + i * j * salt) % 9) - 4) / 8.0;
            }
        }
        return m;
    }

    /** Norm weights near 1: 1 + a multiple of 1/8; salts that differ mod 5 give different vectors. */
    private static double[] gridVector(int n, int salt) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = 1 + (((i * 3 + salt) % 5) - 2) / 8.0;
        }
        return v;
    }

    private static Tensor tensor(double[][] m) {
        double[] flat = new double[m.length * m[0].length];
        for (int i = 0; i < m.length; i++) {
            System.arraycopy(m[i], 0, flat, i * m[0].length, m[0].length);
        }
        return new Tensor(new long[]{m.length, m[0].length}, flat);
    }

    private static Tensor tensor(double[] v) {
        return new Tensor(new long[]{v.length}, v.clone());
    }

    private static double[] handMatVec(double[][] w, double[] x) {
        double[] y = new double[w.length];
        for (int o = 0; o < w.length; o++) {
            for (int i = 0; i < x.length; i++) {
                y[o] += w[o][i] * x[i];
            }
        }
        return y;
    }

    private static double[] handRms(double[] x, double[] g, double eps) {
        double ms = (x[0] * x[0] + x[1] * x[1] + x[2] * x[2] + x[3] * x[3]) / 4;
        double r = 1 / Math.sqrt(ms + eps);
        return new double[]{g[0] * x[0] * r, g[1] * x[1] * r, g[2] * x[2] * r, g[3] * x[3] * r};
    }

    private static double[] handAdd(double[] a, double[] b) {
        return new double[]{a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]};
    }

    /** Builds a [heads.length * headDim, in] projection whose head h copies head heads[h] of {@code kv}. */
    private static Tensor repeatHeads(Tensor kv, int headDim, int[] heads) {
        int in = (int) kv.shape()[1];
        double[] out = new double[heads.length * headDim * in];
        for (int h = 0; h < heads.length; h++) {
            System.arraycopy(kv.values(), heads[h] * headDim * in, out, h * headDim * in, headDim * in);
        }
        return new Tensor(new long[]{(long) heads.length * headDim, in}, out);
    }

    private static int[] randomTokens(int n, int vocab, long seed) {
        Random r = new Random(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = r.nextInt(vocab);
        }
        return t;
    }

    private static double maxAbsDiff(double[][] a, double[][] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[i].length; j++) {
                max = Math.max(max, Math.abs(a[i][j] - b[i][j]));
            }
        }
        return max;
    }
}
