package io.shuttle.kernels.cuda;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;

/** Shape, dtype and layout checks of the CUDA backend's grouped (expert) operations. */
final class ExpertChecks {
    private ExpertChecks() {
    }

    static void groupedMatmul(Tensor a, int[] offsets, Tensor[] ws, Tensor out) {
        String op = "groupedMatmul";
        rank2(a, op, "a");
        rank2(out, op, "out");
        if (a.dtype() != DType.F32 && a.dtype() != DType.BF16) {
            throw fail(op + ": a must be F32 or BF16, got " + a);
        }
        if (out.dtype() != DType.F32) {
            throw fail(op + ": out must be F32, got " + out);
        }
        offsets(offsets, ws.length, a.dim(0), op, "a's rows");
        if (out.dim(0) != a.dim(0)) {
            throw fail(op + ": out must have a's " + a.dim(0) + " rows, got " + out);
        }
        if (a.dim(1) % 8 != 0) {
            throw fail(op + ": k = " + a.dim(1) + " must be a multiple of 8 for the tensor-core GEMM");
        }
        if (a.dtype() == DType.BF16 && !DeviceChecks.aligned16(a)) {
            throw fail(op + ": BF16 a " + a + " must start at a 16-byte aligned address");
        }
        for (int e = 0; e < ws.length; e++) {
            if (offsets[e + 1] > offsets[e]) {
                weight(ws[e], out.dim(1), a.dim(1), op, "ws[" + e + "]");
            }
        }
    }

    static void expertFfn(Tensor x, Tensor rowIndex, Tensor rowScale, int[] offsets, Tensor[] w1, Tensor[] w3,
                          Tensor[] w2, Tensor out) {
        String op = "expertFfn";
        rank2(x, op, "x");
        rank2(out, op, "out");
        if (x.dtype() != DType.F32 || out.dtype() != DType.F32) {
            throw fail(op + ": x and out must be F32, got x " + x + ", out " + out);
        }
        if (out.dim(1) != x.dim(1)) {
            throw fail(op + ": out rows have " + out.dim(1) + " elements but x rows have " + x.dim(1));
        }
        if (rowIndex.dtype() != DType.I32 || rowScale.dtype() != DType.F32
                || rowIndex.numel() != rowScale.numel()) {
            throw fail(op + ": rowIndex must be I32 and rowScale F32 with one entry per routed row, got "
                    + rowIndex + " and " + rowScale);
        }
        if (w1.length != w3.length || w1.length != w2.length) {
            throw fail(op + ": w1, w3 and w2 must list the same experts, got " + w1.length + ", " + w3.length
                    + " and " + w2.length);
        }
        offsets(offsets, w1.length, rowIndex.numel(), op, "the routed rows");
        long hidden = x.dim(1);
        long inter = -1;
        for (int e = 0; e < w1.length; e++) {
            if (offsets[e + 1] == offsets[e]) {
                continue;
            }
            if (w1[e] == null) {
                throw fail(op + ": expert " + e + " has rows but w1[" + e + "] is null");
            }
            if (inter < 0) {
                inter = w1[e].dim(0);
            }
            weight(w1[e], inter, hidden, op, "w1[" + e + "]");
            weight(w3[e], inter, hidden, op, "w3[" + e + "]");
            weight(w2[e], hidden, inter, op, "w2[" + e + "]");
        }
        if (hidden % 8 != 0 || (inter > 0 && inter % 8 != 0)) {
            throw fail(op + ": hidden (" + hidden + ") and intermediate (" + inter + ") sizes must be multiples"
                    + " of 8 for the tensor-core GEMM");
        }
    }

    private static void offsets(int[] offsets, int groups, long rows, String op, String what) {
        if (offsets == null || offsets.length != groups + 1) {
            throw fail(op + ": offsets must have " + (groups + 1) + " entries (one more than the groups), got "
                    + (offsets == null ? "null" : offsets.length));
        }
        if (offsets[0] != 0 || offsets[groups] != rows) {
            throw fail(op + ": offsets must run from 0 to " + rows + " (" + what + "), got " + offsets[0] + " .. "
                    + offsets[groups]);
        }
        for (int e = 0; e < groups; e++) {
            if (offsets[e + 1] < offsets[e]) {
                throw fail(op + ": offsets must not decrease, but offsets[" + (e + 1) + "] = " + offsets[e + 1]
                        + " < offsets[" + e + "] = " + offsets[e]);
            }
        }
    }

    private static void weight(Tensor w, long rows, long cols, String op, String name) {
        if (w == null || w.dtype() != DType.BF16 || w.rank() != 2 || w.dim(0) != rows || w.dim(1) != cols) {
            throw fail(op + ": " + name + " must be BF16 [" + rows + ", " + cols + "], got " + w);
        }
        if (!DeviceChecks.aligned16(w)) {
            throw fail(op + ": " + name + " " + w + " must start at a 16-byte aligned address");
        }
    }

    private static void rank2(Tensor t, String op, String name) {
        if (t.rank() != 2) {
            throw fail(op + ": " + name + " must be 2-D, got " + t);
        }
    }

    private static IllegalArgumentException fail(String message) {
        return new IllegalArgumentException(message);
    }
}
