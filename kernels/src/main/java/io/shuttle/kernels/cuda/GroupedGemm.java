package io.shuttle.kernels.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * The by-value parameter of the tensor-core GEMM kernels ({@code struct GroupedGemm} in
 * {@code gemm.cu}): up to {@link #MAX_GROUPS} groups, each {@code C_g = A_g · B_gᵀ} with its own
 * row count and width, plus the scatter epilogue's destination. All fields are 64-bit, in the
 * C declaration order.
 */
final class GroupedGemm {
    static final int MAX_GROUPS = 16;
    static final int BM = 64;
    static final int BN = 64;
    /** Bytes of the C struct: 7 arrays of 16, tileStart of 17, 7 scalars, 8 bytes each. */
    static final int STRUCT_BYTES = (7 * MAX_GROUPS + MAX_GROUPS + 1 + 7) * 8;

    /**
     * One group: device addresses of A (bf16 [rows, k]), B (bf16 [n, k]), the optional second B
     * (SwiGLU up projection, else 0) and C; {@code rowStart} is the group's first row in the
     * scatter epilogue's index/scale arrays.
     */
    record Group(long a, long b0, long b1, long c, long rows, long n, long rowStart) {
    }

    private final List<Group> groups = new ArrayList<>();
    private final long k;

    GroupedGemm(long k) {
        this.k = k;
    }

    /** Adds a group; groups with no rows are dropped (they have no tiles). */
    GroupedGemm add(Group g) {
        if (g.rows() > 0) {
            groups.add(g);
        }
        return this;
    }

    boolean isEmpty() {
        return groups.isEmpty();
    }

    /** Splits into launches of at most MAX_GROUPS groups each. */
    List<GroupedGemm> chunks() {
        List<GroupedGemm> out = new ArrayList<>();
        for (int i = 0; i < groups.size(); i += MAX_GROUPS) {
            GroupedGemm c = new GroupedGemm(k);
            c.groups.addAll(groups.subList(i, Math.min(groups.size(), i + MAX_GROUPS)));
            out.add(c);
        }
        return out;
    }

    /** Grid x: n-tiles of the widest group. */
    long gridX() {
        long max = 0;
        for (Group g : groups) {
            max = Math.max(max, (g.n() + BN - 1) / BN);
        }
        return max;
    }

    /** Grid y: m-tiles of all groups back to back. */
    long gridY() {
        long tiles = 0;
        for (Group g : groups) {
            tiles += (g.rows() + BM - 1) / BM;
        }
        return tiles;
    }

    /** The struct bytes; scatter fields are 0 for the store and SwiGLU epilogues. */
    byte[] encode(long scatterOut, long index, long scale, long outRows, long errorWord) {
        if (groups.size() > MAX_GROUPS) {
            throw new IllegalStateException("at most " + MAX_GROUPS + " groups per launch, got " + groups.size());
        }
        CStruct s = new CStruct(STRUCT_BYTES);
        field(s, Group::a);
        field(s, Group::b0);
        field(s, Group::b1);
        field(s, Group::c);
        field(s, Group::rows);
        field(s, Group::n);
        field(s, Group::rowStart);
        long tile = 0;
        for (int i = 0; i <= MAX_GROUPS; i++) {
            s.i64(tile);
            if (i < groups.size()) {
                tile += (groups.get(i).rows() + BM - 1) / BM;
            }
        }
        s.i64(groups.size()).i64(k).i64(scatterOut).i64(index).i64(scale).i64(outRows).i64(errorWord);
        return s.bytes();
    }

    private void field(CStruct s, java.util.function.ToLongFunction<Group> f) {
        for (int i = 0; i < MAX_GROUPS; i++) {
            s.i64(i < groups.size() ? f.applyAsLong(groups.get(i)) : 0L);
        }
    }
}
