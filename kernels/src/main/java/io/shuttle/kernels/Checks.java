package io.shuttle.kernels;

import java.lang.foreign.MemorySegment;

/**
 * Argument validation shared by every {@link Backend}, so all backends reject the same calls with
 * the same messages. Each message starts with the operation and names the operand, e.g.
 * {@code "matmul: w has 4096 columns but x has 1024 (x Tensor[1, 1024] F32, w Tensor[8, 4096] BF16)"}.
 *
 * <p>Checks read only shapes and dtypes, plus the index tensors whose values decide which memory
 * a kernel touches (ids, slots, block tables), so a bad index is reported here instead of as a
 * crash or a silent out-of-bounds read inside a kernel. Messages are built only on failure.
 */
public final class Checks {
    private Checks() {
    }

    // ---- dense math -----------------------------------------------------------------------

    public static void matmul(Tensor x, Tensor w, Tensor out) {
        rank(x, 2, "matmul", "x", "[n, k]");
        rank(w, 2, "matmul", "w", "[m, k]");
        rank(out, 2, "matmul", "out", "[n, m]");
        f32(x, "matmul", "x");
        f32(out, "matmul", "out");
        if (!w.dtype().isFloating()) {
            throw fail("matmul: w must be F32, BF16 or F16, got " + w);
        }
        if (w.dim(1) != x.dim(1)) {
            throw fail("matmul: w has " + w.dim(1) + " columns but x has " + x.dim(1) + " (x " + x + ", w " + w + ")");
        }
        if (out.dim(0) != x.dim(0) || out.dim(1) != w.dim(0)) {
            throw fail("matmul: out must be [" + x.dim(0) + ", " + w.dim(0) + "] for x " + x + " and w " + w
                    + ", got " + out);
        }
        noOverlap(out, x, "matmul", "out", "x");
        noOverlap(out, w, "matmul", "out", "w");
    }

    public static void matmulMany(Tensor x, Tensor[] ws, Tensor[] outs) {
        if (ws == null || outs == null || ws.length == 0 || ws.length != outs.length) {
            throw fail("matmulMany: ws and outs must be non-empty and of equal length, got "
                    + (ws == null ? "null" : ws.length) + " weights and " + (outs == null ? "null" : outs.length)
                    + " outputs");
        }
        for (int j = 0; j < ws.length; j++) {
            if (ws[j] == null || outs[j] == null) {
                throw fail("matmulMany: ws[" + j + "] or outs[" + j + "] is null");
            }
            matmul(x, ws[j], outs[j]);
            for (int i = 0; i < j; i++) {
                noOverlap(outs[j], outs[i], "matmulMany", "outs[" + j + "]", "outs[" + i + "]");
            }
        }
    }

    public static void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        rank(x, 2, "rmsNorm", "x", "[n, d]");
        f32(x, "rmsNorm", "x");
        f32(out, "rmsNorm", "out");
        floating(weight, "rmsNorm", "weight");
        sameShape(x, out, "rmsNorm", "x", "out");
        if (weight.numel() != x.dim(1)) {
            throw fail("rmsNorm: weight has " + weight.numel() + " elements but x rows have " + x.dim(1)
                    + " (x " + x + ", weight " + weight + ")");
        }
        if (!(eps >= 0) || Float.isInfinite(eps)) {
            throw fail("rmsNorm: eps must be a finite non-negative number, got " + eps);
        }
    }

    public static void elementwise(String op, Tensor a, String aName, Tensor b, String bName, Tensor out) {
        f32(a, op, aName);
        f32(b, op, bName);
        f32(out, op, "out");
        sameShape(a, b, op, aName, bName);
        sameShape(a, out, op, aName, "out");
    }

    public static void embedding(Tensor table, Tensor ids, Tensor out) {
        rank(table, 2, "embedding", "table", "[V, d]");
        rank(out, 2, "embedding", "out", "[n, d]");
        floating(table, "embedding", "table");
        i32(ids, "embedding", "ids");
        f32(out, "embedding", "out");
        if (out.dim(0) != ids.numel() || out.dim(1) != table.dim(1)) {
            throw fail("embedding: out must be [" + ids.numel() + ", " + table.dim(1) + "] for ids " + ids
                    + " and table " + table + ", got " + out);
        }
        indices(ids, table.dim(0), "embedding", "ids", "the table's rows");
    }

    // ---- attention ------------------------------------------------------------------------

    public static void rope(Tensor x, Tensor positions, int numHeads, int headDim, float theta) {
        rank(x, 2, "rope", "x", "[n, numHeads * headDim]");
        f32(x, "rope", "x");
        i32(positions, "rope", "positions");
        if (numHeads <= 0 || headDim <= 0 || headDim % 2 != 0) {
            throw fail("rope: numHeads must be positive and headDim positive and even, got numHeads=" + numHeads
                    + " headDim=" + headDim);
        }
        if (x.dim(1) != (long) numHeads * headDim) {
            throw fail("rope: x rows have " + x.dim(1) + " elements but numHeads * headDim = " + numHeads + " * "
                    + headDim + " (x " + x + ")");
        }
        if (positions.numel() != x.dim(0)) {
            throw fail("rope: positions has " + positions.numel() + " entries but x has " + x.dim(0) + " rows");
        }
        if (!(theta > 0) || Float.isInfinite(theta)) {
            throw fail("rope: theta must be a finite positive number, got " + theta);
        }
        for (long i = 0, n = positions.numel(); i < n; i++) {
            if (positions.getInt(i) < 0) {
                throw fail("rope: positions[" + i + "] = " + positions.getInt(i) + " is negative");
            }
        }
    }

    public static void writeKv(Tensor k, Tensor v, Tensor kCache, Tensor vCache, Tensor slots) {
        rank(k, 2, "writeKv", "k", "[n, kvDim]");
        rank(kCache, 2, "writeKv", "kCache", "[numSlots, kvDim]");
        f32(k, "writeKv", "k");
        f32(v, "writeKv", "v");
        f32(kCache, "writeKv", "kCache");
        f32(vCache, "writeKv", "vCache");
        i32(slots, "writeKv", "slots");
        sameShape(k, v, "writeKv", "k", "v");
        sameShape(kCache, vCache, "writeKv", "kCache", "vCache");
        if (kCache.dim(1) != k.dim(1)) {
            throw fail("writeKv: kCache rows have " + kCache.dim(1) + " elements but k rows have " + k.dim(1)
                    + " (k " + k + ", kCache " + kCache + ")");
        }
        if (slots.numel() != k.dim(0)) {
            throw fail("writeKv: slots has " + slots.numel() + " entries but k has " + k.dim(0) + " rows");
        }
        indices(slots, kCache.dim(0), "writeKv", "slots", "the cache's slots");
    }

    public static void pagedAttention(Tensor q, Tensor kCache, Tensor vCache, PagedAttentionMeta meta,
                                      int numHeads, int numKvHeads, int headDim, Tensor out) {
        String op = "pagedAttention";
        rank(q, 2, op, "q", "[n, numHeads * headDim]");
        rank(kCache, 2, op, "kCache", "[numSlots, numKvHeads * headDim]");
        f32(q, op, "q");
        f32(out, op, "out");
        f32(kCache, op, "kCache");
        f32(vCache, op, "vCache");
        sameShape(q, out, op, "q", "out");
        sameShape(kCache, vCache, op, "kCache", "vCache");
        if (numHeads <= 0 || numKvHeads <= 0 || headDim <= 0 || numHeads % numKvHeads != 0) {
            throw fail(op + ": need positive head counts with numHeads a multiple of numKvHeads, got numHeads="
                    + numHeads + " numKvHeads=" + numKvHeads + " headDim=" + headDim);
        }
        if (q.dim(1) != (long) numHeads * headDim) {
            throw fail(op + ": q rows have " + q.dim(1) + " elements but numHeads * headDim = " + numHeads + " * "
                    + headDim + " (q " + q + ")");
        }
        if (kCache.dim(1) != (long) numKvHeads * headDim) {
            throw fail(op + ": kCache rows have " + kCache.dim(1) + " elements but numKvHeads * headDim = "
                    + numKvHeads + " * " + headDim + " (kCache " + kCache + ")");
        }
        long n = q.dim(0);
        if (meta.tokenSeq().numel() != n) {
            throw fail(op + ": meta.tokenSeq has " + meta.tokenSeq().numel() + " entries but q has " + n + " rows");
        }
        Tensor tables = meta.blockTables();
        long numSeqs = tables.dim(0);
        int maxBlocks = meta.maxBlocksPerSeq();
        long numBlocks = kCache.dim(0) / meta.blockSize();
        for (long i = 0; i < n; i++) {
            int seq = meta.tokenSeq().getInt(i);
            int pos = meta.tokenPos().getInt(i);
            if (seq < 0 || seq >= numSeqs) {
                throw fail(op + ": meta.tokenSeq[" + i + "] = " + seq + " is outside the " + numSeqs
                        + " rows of blockTables");
            }
            if (pos < 0 || pos / meta.blockSize() >= maxBlocks) {
                throw fail(op + ": meta.tokenPos[" + i + "] = " + pos + " does not fit " + maxBlocks
                        + " blocks of " + meta.blockSize() + " tokens");
            }
            for (long b = 0, last = pos / meta.blockSize(); b <= last; b++) {
                int block = tables.getInt(seq * (long) maxBlocks + b);
                if (block < 0 || block >= numBlocks) {
                    throw fail(op + ": meta.blockTables[" + seq + ", " + b + "] = " + block + " is outside the "
                            + numBlocks + " blocks of the cache (kCache " + kCache + ", blockSize "
                            + meta.blockSize() + ")");
                }
            }
        }
    }

    // ---- mixture of experts ---------------------------------------------------------------

    public static void routerTopK(Tensor logits, int k, Tensor ids, Tensor weights) {
        rank(logits, 2, "routerTopK", "logits", "[n, numExperts]");
        f32(logits, "routerTopK", "logits");
        i32(ids, "routerTopK", "ids");
        f32(weights, "routerTopK", "weights");
        if (k < 1 || k > logits.dim(1)) {
            throw fail("routerTopK: k must be in 1.." + logits.dim(1) + " (the number of experts), got " + k);
        }
        long want = logits.dim(0) * k;
        if (ids.numel() != want || ids.rank() != 2 || ids.dim(1) != k) {
            throw fail("routerTopK: ids must be [" + logits.dim(0) + ", " + k + "], got " + ids);
        }
        if (weights.numel() != want || weights.rank() != 2 || weights.dim(1) != k) {
            throw fail("routerTopK: weights must be [" + logits.dim(0) + ", " + k + "], got " + weights);
        }
    }

    public static void gatherRows(Tensor src, Tensor index, Tensor out) {
        rank(src, 2, "gatherRows", "src", "[N, d]");
        rank(out, 2, "gatherRows", "out", "[r, d]");
        f32(src, "gatherRows", "src");
        f32(out, "gatherRows", "out");
        i32(index, "gatherRows", "index");
        if (out.dim(0) != index.numel() || out.dim(1) != src.dim(1)) {
            throw fail("gatherRows: out must be [" + index.numel() + ", " + src.dim(1) + "] for index " + index
                    + " and src " + src + ", got " + out);
        }
        noOverlap(out, src, "gatherRows", "out", "src");
        indices(index, src.dim(0), "gatherRows", "index", "src's rows");
    }

    public static void scatterAddRows(Tensor src, Tensor index, Tensor scale, Tensor out) {
        rank(src, 2, "scatterAddRows", "src", "[r, d]");
        rank(out, 2, "scatterAddRows", "out", "[N, d]");
        f32(src, "scatterAddRows", "src");
        f32(out, "scatterAddRows", "out");
        f32(scale, "scatterAddRows", "scale");
        i32(index, "scatterAddRows", "index");
        if (index.numel() != src.dim(0) || scale.numel() != src.dim(0)) {
            throw fail("scatterAddRows: index (" + index + ") and scale (" + scale + ") need one entry per src row ("
                    + src + ")");
        }
        if (out.dim(1) != src.dim(1)) {
            throw fail("scatterAddRows: out rows have " + out.dim(1) + " elements but src rows have " + src.dim(1)
                    + " (src " + src + ", out " + out + ")");
        }
        noOverlap(out, src, "scatterAddRows", "out", "src");
        indices(index, out.dim(0), "scatterAddRows", "index", "out's rows");
    }

    // ---- memory ---------------------------------------------------------------------------

    public static void copy(Tensor src, Tensor dst) {
        if (src.dtype() != dst.dtype() || src.numel() != dst.numel()) {
            throw fail("copy: src " + src + " and dst " + dst + " differ in dtype or element count");
        }
    }

    public static void copyToHost(Tensor src, MemorySegment dst) {
        if (dst.byteSize() < src.byteSize()) {
            throw fail("copyToHost: dst has " + dst.byteSize() + " bytes but src " + src + " needs " + src.byteSize());
        }
    }

    public static void copyFromHost(MemorySegment src, Tensor dst) {
        if (src.byteSize() < dst.byteSize()) {
            throw fail("copyFromHost: src has " + src.byteSize() + " bytes but dst " + dst + " needs "
                    + dst.byteSize());
        }
    }

    // ---- helpers --------------------------------------------------------------------------

    private static void rank(Tensor t, int rank, String op, String name, String expected) {
        if (t.rank() != rank) {
            throw fail(op + ": " + name + " must be " + rank + "-D " + expected + ", got " + t);
        }
    }

    private static void f32(Tensor t, String op, String name) {
        if (t.dtype() != DType.F32) {
            throw fail(op + ": " + name + " must be F32, got " + t);
        }
    }

    private static void i32(Tensor t, String op, String name) {
        if (t.dtype() != DType.I32) {
            throw fail(op + ": " + name + " must be I32, got " + t);
        }
    }

    private static void floating(Tensor t, String op, String name) {
        if (t.isPacked()) {
            throw fail(op + ": " + name + " " + t + " is a linear weight packed for matmul (Backend.prepareLinear);"
                    + " pass the checkpoint tensor (Backend.prepareWeight) instead");
        }
        if (!t.dtype().isFloating()) {
            throw fail(op + ": " + name + " must be F32, BF16 or F16, got " + t);
        }
    }

    private static void sameShape(Tensor a, Tensor b, String op, String aName, String bName) {
        boolean same = a.rank() == b.rank();
        for (int i = 0; same && i < a.rank(); i++) {
            same = a.dim(i) == b.dim(i);
        }
        if (!same) {
            throw fail(op + ": " + bName + " must have the shape of " + aName + " (" + aName + " " + a + ", "
                    + bName + " " + b + ")");
        }
    }

    private static void indices(Tensor index, long bound, String op, String name, String what) {
        for (long i = 0, n = index.numel(); i < n; i++) {
            int v = index.getInt(i);
            if (v < 0 || v >= bound) {
                throw fail(op + ": " + name + "[" + i + "] = " + v + " is outside " + what + " (0.." + (bound - 1) + ")");
            }
        }
    }

    /** Outputs that must not share memory with an input the kernel reads while writing. */
    private static void noOverlap(Tensor out, Tensor in, String op, String outName, String inName) {
        MemorySegment a = out.data();
        MemorySegment b = in.data();
        if (a.isNative() && b.isNative() && a.byteSize() > 0 && b.byteSize() > 0
                && a.address() < b.address() + b.byteSize() && b.address() < a.address() + a.byteSize()) {
            throw fail(op + ": " + outName + " " + out + " overlaps " + inName + " " + in);
        }
    }

    private static IllegalArgumentException fail(String message) {
        return new IllegalArgumentException(message);
    }
}
