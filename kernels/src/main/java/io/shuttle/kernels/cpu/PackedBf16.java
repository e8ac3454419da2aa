package io.shuttle.kernels.cpu;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;

import java.lang.foreign.MemorySegment;

import static io.shuttle.kernels.cpu.Simd.I32;
import static io.shuttle.kernels.cpu.Simd.L;

/**
 * The CPU backend's layout for BF16 linear weights ({@code [m, k]}, Hugging Face {@code [out, in]}),
 * read by {@link MatmulPacked}.
 *
 * <p>Why repack: the checkpoint layout keeps each output's k values contiguous, so a vector
 * kernel computes dot products and must reduce every accumulator across its lanes at the end
 * (16 horizontal reductions per 4 × 4 block). With few rows per call (the experts at decode
 * get batch × top-k ÷ experts rows each) those reductions and the per-row BF16 widening cost as
 * much as the multiply-adds. Stored k-major instead, one vector holds one k for {@link Simd#L}
 * consecutive outputs, so x is broadcast, every lane is a finished output, and nothing is
 * reduced. llama.cpp's CPU backend repacks its quantised weights at load for the same reason.
 *
 * <p>The layout: outputs are cut into groups of {@link #PANELS} panels of L outputs; within a
 * group, for each pair of k columns {@code (2q, 2q+1)}, the {@code PANELS · L} 32-bit words
 * {@code W[o][2q] | W[o][2q+1] << 16} follow one another, so one vector load yields k = 2q
 * ({@code word << 16}) and k = 2q+1 ({@code word & 0xFFFF0000}) for L outputs, and a group is one
 * sequential stream. Outputs past m and the missing k of an odd k are zero. Memory: the same
 * bytes as the checkpoint plus the padding of the last group (at most {@code PANELS · L − 1}
 * outputs); the checkpoint's pages are no longer read.
 */
final class PackedBf16 {
    /** Panels per group: 4 × L outputs keep 16 accumulators for 4 rows of x. */
    static final int PANELS = 4;
    /** Outputs per group. */
    static final int GROUP = PANELS * L;

    final int m;
    final int k;
    /** k column pairs, the last one half empty when k is odd. */
    final int pairs;
    final int groups;

    private PackedBf16(int m, int k) {
        this.m = m;
        this.k = k;
        this.pairs = (k + 1) / 2;
        this.groups = (m + GROUP - 1) / GROUP;
    }

    /** Bytes of one group: pairs × GROUP words. */
    long groupBytes() {
        return (long) pairs * GROUP * 4;
    }

    /** Worth packing: BF16, a matrix, and at least one full group of outputs (a router's 8 would be mostly padding). */
    static boolean worthPacking(Tensor w) {
        return w.dtype() == DType.BF16 && w.rank() == 2 && !w.isDevice() && !w.isPacked() && w.dim(0) >= GROUP
                && w.dim(1) >= 1;
    }

    /** A packed copy of {@code w} (BF16 {@code [m, k]}, row-major) in memory from {@code slabs}. */
    static Tensor pack(Tensor w, WeightSlabs slabs) {
        int m = Math.toIntExact(w.dim(0));
        int k = Math.toIntExact(w.dim(1));
        PackedBf16 p = new PackedBf16(m, k);
        MemorySegment dst = slabs.allocate(p.groupBytes() * p.groups); // zeroed: padding stays 0
        MemorySegment src = w.data();
        int fullPairs = k / 2;
        long rowBytes = 2L * k;
        for (int o = 0; o < m; o++) {
            int g = o / GROUP;
            int lane = o % GROUP;
            long base = g * p.groupBytes() + 4L * lane;
            long row = o * rowBytes;
            // Little-endian: the int at k = 2q holds W[o][2q] in its low half, W[o][2q+1] in its high half.
            for (int q = 0; q < fullPairs; q++) {
                dst.set(I32, base + (long) q * GROUP * 4, src.get(I32, row + 4L * q));
            }
            if (k % 2 == 1) {
                int last = src.get(Simd.I16, row + 2L * (k - 1)) & 0xFFFF;
                dst.set(I32, base + (long) fullPairs * GROUP * 4, last);
            }
        }
        return Tensor.packed(dst, DType.BF16, p, m, k);
    }

    @Override
    public String toString() {
        return "bf16 k-pair panels (" + groups + " groups of " + GROUP + " outputs)";
    }
}
