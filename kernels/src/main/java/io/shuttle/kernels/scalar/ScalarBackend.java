package io.shuttle.kernels.scalar;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.Checks;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.HostBackend;
import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * The correctness oracle: every operation as the plainest loop over {@link Tensor#getFloat} /
 * {@link Tensor#setFloat}, one thread, sums in double. Slow by design; other backends are tested
 * against it, and it is tested against hand-computed cases.
 */
public final class ScalarBackend extends HostBackend {

    public ScalarBackend() {
        super("scalar");
    }

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void matmul(Tensor x, Tensor w, Tensor out) {
        Checks.matmul(x, w, out);
        long n = x.dim(0), k = x.dim(1), m = w.dim(0);
        for (long i = 0; i < n; i++) {
            for (long j = 0; j < m; j++) {
                double sum = 0;
                for (long c = 0; c < k; c++) {
                    sum += (double) x.getFloat(i * k + c) * w.getFloat(j * k + c);
                }
                out.setFloat(i * m + j, (float) sum);
            }
        }
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        Checks.rmsNorm(x, weight, eps, out);
        long n = x.dim(0), d = x.dim(1);
        for (long i = 0; i < n; i++) {
            double sumSq = 0;
            for (long c = 0; c < d; c++) {
                double v = x.getFloat(i * d + c);
                sumSq += v * v;
            }
            float inv = (float) (1.0 / Math.sqrt(sumSq / d + eps));
            for (long c = 0; c < d; c++) {
                out.setFloat(i * d + c, x.getFloat(i * d + c) * inv * weight.getFloat(c));
            }
        }
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        Checks.elementwise("add", a, "a", b, "b", out);
        for (long i = 0; i < a.numel(); i++) {
            out.setFloat(i, a.getFloat(i) + b.getFloat(i));
        }
    }

    @Override
    public void siluMul(Tensor gate, Tensor up, Tensor out) {
        Checks.elementwise("siluMul", gate, "gate", up, "up", out);
        for (long i = 0; i < gate.numel(); i++) {
            double g = gate.getFloat(i);
            out.setFloat(i, (float) (g / (1 + Math.exp(-g)) * up.getFloat(i)));
        }
    }

    @Override
    public void embedding(Tensor table, Tensor ids, Tensor out) {
        Checks.embedding(table, ids, out);
        long d = table.dim(1);
        for (long i = 0; i < ids.numel(); i++) {
            long row = ids.getInt(i);
            for (long c = 0; c < d; c++) {
                out.setFloat(i * d + c, table.getFloat(row * d + c));
            }
        }
    }

    @Override
    public void rope(Tensor x, Tensor positions, int numHeads, int headDim, float theta) {
        Checks.rope(x, positions, numHeads, headDim, theta);
        int half = headDim / 2;
        long rowSize = (long) numHeads * headDim;
        for (long i = 0; i < x.dim(0); i++) {
            int pos = positions.getInt(i);
            for (int h = 0; h < numHeads; h++) {
                long base = i * rowSize + (long) h * headDim;
                for (int c = 0; c < half; c++) {
                    double angle = pos * (1.0 / Math.pow(theta, 2.0 * c / headDim));
                    double cos = Math.cos(angle), sin = Math.sin(angle);
                    double x1 = x.getFloat(base + c), x2 = x.getFloat(base + c + half);
                    x.setFloat(base + c, (float) (x1 * cos - x2 * sin));
                    x.setFloat(base + c + half, (float) (x2 * cos + x1 * sin));
                }
            }
        }
    }

    @Override
    public void writeKv(Tensor k, Tensor v, Tensor kCache, Tensor vCache, Tensor slots) {
        Checks.writeKv(k, v, kCache, vCache, slots);
        long kvDim = k.dim(1);
        for (long i = 0; i < k.dim(0); i++) {
            long slot = slots.getInt(i);
            for (long c = 0; c < kvDim; c++) {
                kCache.setFloat(slot * kvDim + c, k.getFloat(i * kvDim + c));
                vCache.setFloat(slot * kvDim + c, v.getFloat(i * kvDim + c));
            }
        }
    }

    @Override
    public void pagedAttention(Tensor q, Tensor kCache, Tensor vCache, PagedAttentionMeta meta,
                               int numHeads, int numKvHeads, int headDim, Tensor out) {
        Checks.pagedAttention(q, kCache, vCache, meta, numHeads, numKvHeads, headDim, out);
        long qRow = (long) numHeads * headDim;
        long kvRow = (long) numKvHeads * headDim;
        int group = numHeads / numKvHeads;
        double scale = 1.0 / Math.sqrt(headDim);
        for (long i = 0; i < q.dim(0); i++) {
            int seq = meta.tokenSeq().getInt(i);
            int pos = meta.tokenPos().getInt(i);
            for (int h = 0; h < numHeads; h++) {
                long qBase = i * qRow + (long) h * headDim;
                long kvOff = (long) (h / group) * headDim;
                // Two passes over exact scores: max first, then exp and weighted sum.
                double[] scores = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int p = 0; p <= pos; p++) {
                    long kBase = slot(meta, seq, p) * kvRow + kvOff;
                    double dot = 0;
                    for (int c = 0; c < headDim; c++) {
                        dot += (double) q.getFloat(qBase + c) * kCache.getFloat(kBase + c);
                    }
                    scores[p] = dot * scale;
                    max = Math.max(max, scores[p]);
                }
                double sum = 0;
                for (int p = 0; p <= pos; p++) {
                    scores[p] = Math.exp(scores[p] - max);
                    sum += scores[p];
                }
                for (int c = 0; c < headDim; c++) {
                    double acc = 0;
                    for (int p = 0; p <= pos; p++) {
                        acc += scores[p] * vCache.getFloat(slot(meta, seq, p) * kvRow + kvOff + c);
                    }
                    out.setFloat(qBase + c, (float) (acc / sum));
                }
            }
        }
    }

    private static long slot(PagedAttentionMeta meta, int seq, int pos) {
        int block = meta.blockTables().getInt((long) seq * meta.maxBlocksPerSeq() + pos / meta.blockSize());
        return (long) block * meta.blockSize() + pos % meta.blockSize();
    }

    @Override
    public void routerTopK(Tensor logits, int k, Tensor ids, Tensor weights) {
        Checks.routerTopK(logits, k, ids, weights);
        int experts = (int) logits.dim(1);
        for (long i = 0; i < logits.dim(0); i++) {
            // Softmax in F32, as Mixtral's router does.
            float[] probs = new float[experts];
            float max = Float.NEGATIVE_INFINITY;
            for (int e = 0; e < experts; e++) {
                max = Math.max(max, logits.getFloat(i * experts + e));
            }
            float sum = 0;
            for (int e = 0; e < experts; e++) {
                probs[e] = (float) Math.exp(logits.getFloat(i * experts + e) - max);
                sum += probs[e];
            }
            for (int e = 0; e < experts; e++) {
                probs[e] /= sum;
            }
            boolean[] taken = new boolean[experts];
            int[] chosen = new int[k];
            float topSum = 0;
            for (int j = 0; j < k; j++) {
                int best = -1;
                for (int e = 0; e < experts; e++) {
                    if (!taken[e] && (best < 0 || probs[e] > probs[best])) {
                        best = e;
                    }
                }
                taken[best] = true;
                chosen[j] = best;
                topSum += probs[best];
            }
            for (int j = 0; j < k; j++) {
                ids.setInt(i * k + j, chosen[j]);
                weights.setFloat(i * k + j, probs[chosen[j]] / topSum);
            }
        }
    }

    @Override
    public void gatherRows(Tensor src, Tensor index, Tensor out) {
        Checks.gatherRows(src, index, out);
        long d = src.dim(1);
        for (long i = 0; i < index.numel(); i++) {
            long row = index.getInt(i);
            for (long c = 0; c < d; c++) {
                out.setFloat(i * d + c, src.getFloat(row * d + c));
            }
        }
    }

    @Override
    public void scatterAddRows(Tensor src, Tensor index, Tensor scale, Tensor out) {
        Checks.scatterAddRows(src, index, scale, out);
        long d = src.dim(1);
        for (long i = 0; i < src.dim(0); i++) {
            long row = index.getInt(i);
            float s = scale.getFloat(i);
            for (long c = 0; c < d; c++) {
                out.setFloat(row * d + c, out.getFloat(row * d + c) + s * src.getFloat(i * d + c));
            }
        }
    }

    @Override
    public void close() {
        releaseAll();
    }
}
