package io.shuttle.kernels.cuda;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.PagedAttentionMeta;
import io.shuttle.kernels.Tensor;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.JCudaDriver;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * GPU figures for {@code kernels/scripts/gpu-check.sh}: the grouped expert GEMM (Mixtral shapes:
 * 8 experts, hidden 4096, FFN 14336) against torch.matmul on the same shapes, and decode attention
 * against the device copy bandwidth it could at best reach. Times are CUDA-event times of the
 * kernels alone (median of repeats after a warm-up).
 *
 * <p>Usage: {@code CudaBench [--torch <file of "gemm,<tokensPerExpert>,<ms>" lines>]}; prints one
 * Markdown table.
 */
public final class CudaBench {
    private static final int EXPERTS = 8, HIDDEN = 4096, FFN = 14336;
    private static final int[] TOKENS_PER_EXPERT = {16, 128, 512};
    private static final int REPEATS = 10;

    private final CudaBackend gpu;
    private final List<String> rows = new ArrayList<>();

    private CudaBench(CudaBackend gpu) {
        this.gpu = gpu;
    }

    public static void main(String[] args) throws IOException {
        Map<Integer, Double> torch = new HashMap<>();
        if (args.length == 2 && args[0].equals("--torch")) {
            for (String line : Files.readAllLines(Path.of(args[1]))) {
                String[] f = line.trim().split(",");
                if (f.length == 3 && f[0].equals("gemm")) {
                    torch.put(Integer.parseInt(f[1]), Double.parseDouble(f[2]));
                }
            }
        } else if (args.length != 0) {
            throw new IllegalArgumentException("usage: CudaBench [--torch <file>]");
        }
        try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.defaults())) {
            CudaBench bench = new CudaBench(gpu);
            System.out.println("device: " + gpu.name());
            bench.groupedGemm(torch);
            bench.decodeAttention();
            System.out.println();
            System.out.println("| benchmark | shape | time (ms) | rate | reference | ratio | target |");
            System.out.println("|---|---|---|---|---|---|---|");
            bench.rows.forEach(System.out::println);
        }
    }

    private void groupedGemm(Map<Integer, Double> torch) {
        try (Arena arena = Arena.ofConfined()) {
            // One random bf16 weight uploaded for every expert: the rate does not depend on values.
            Tensor host = randomBf16(arena, new SplittableRandom(1), FFN, HIDDEN);
            Tensor[] ws = new Tensor[EXPERTS];
            for (int e = 0; e < EXPERTS; e++) {
                ws[e] = gpu.prepareWeight(host);
            }
            for (int t : TOKENS_PER_EXPERT) {
                int rowsTotal = t * EXPERTS;
                Tensor a = gpu.allocate(DType.BF16, rowsTotal, HIDDEN);
                gpu.copyFromHost(randomBf16(arena, new SplittableRandom(t), rowsTotal, HIDDEN).data(), a);
                Tensor out = gpu.allocate(DType.F32, rowsTotal, FFN);
                int[] offsets = new int[EXPERTS + 1];
                for (int e = 0; e < EXPERTS; e++) {
                    offsets[e + 1] = offsets[e] + t;
                }
                double ms = time(() -> gpu.groupedMatmul(a, offsets, ws, out));
                double tflops = 2.0 * rowsTotal * HIDDEN * FFN / (ms * 1e-3) / 1e12;
                Double ref = torch.get(t);
                rows.add(String.format(Locale.ROOT, "| grouped expert GEMM (bf16, tensor cores) | %d experts x %d tokens,"
                                + " %dx%d | %.3f | %.1f TFLOP/s | %s | %s | >= 0.7 x torch |", EXPERTS, t, FFN, HIDDEN, ms,
                        tflops, ref == null ? "torch not run" : String.format(Locale.ROOT, "torch.matmul %.3f ms", ref),
                        ref == null ? "-" : String.format(Locale.ROOT, "%.2f", ref / ms)));
                gpu.release(a);
                gpu.release(out);
            }
            for (Tensor w : ws) {
                gpu.release(w);
            }
        }
    }

    private void decodeAttention() {
        int batch = 64, context = 4096, heads = 32, kvHeads = 8, headDim = 128, blockSize = 16;
        long slots = (long) batch * context;
        long kvDim = (long) kvHeads * headDim;
        Tensor kc = gpu.allocate(DType.F32, slots, kvDim);
        Tensor vc = gpu.allocate(DType.F32, slots, kvDim);
        int blocksPerSeq = context / blockSize;
        try (Arena arena = Arena.ofConfined()) {
            int[] tables = new int[batch * blocksPerSeq];
            int[] seq = new int[batch];
            int[] pos = new int[batch];
            for (int s = 0; s < batch; s++) {
                for (int b = 0; b < blocksPerSeq; b++) {
                    tables[s * blocksPerSeq + b] = s * blocksPerSeq + b;
                }
                seq[s] = s;
                pos[s] = context - 1;
            }
            PagedAttentionMeta meta = new PagedAttentionMeta(upload(arena, tables, batch, blocksPerSeq), blockSize,
                    upload(arena, seq, batch), upload(arena, pos, batch));
            Tensor q = gpu.allocate(DType.F32, batch, (long) heads * headDim);
            Tensor out = gpu.allocate(DType.F32, batch, (long) heads * headDim);
            double ms = time(() -> gpu.pagedAttention(q, kc, vc, meta, heads, kvHeads, headDim, out));
            double bytes = 2.0 * slots * kvDim * 4;  // every key and value row once
            double gbs = bytes / (ms * 1e-3) / 1e9;
            // Copy bandwidth: one cache copied to the other, read + write bytes.
            double copyMs = time(() -> gpu.copyRepeatedly(kc, vc, 1));
            double copyGbs = 2.0 * kc.byteSize() / (copyMs * 1e-3) / 1e9;
            rows.add(String.format(Locale.ROOT, "| decode attention (f32 paged KV) | batch %d, context %d, heads %d/%d,"
                            + " d%d | %.3f | %.0f GB/s | cuMemcpyDtoD %.0f GB/s | %.2f | >= 0.6 |", batch, context, heads,
                    kvHeads, headDim, ms, gbs, copyGbs, gbs / copyGbs));
        }
    }

    private Tensor upload(Arena arena, int[] values, long... shape) {
        Tensor t = gpu.allocate(DType.I32, shape);
        gpu.copyFromHost(Tensor.ofInts(arena, values, shape).data(), t);
        return t;
    }

    private static Tensor randomBf16(Arena arena, SplittableRandom rnd, long rows, long cols) {
        Tensor t = Tensor.allocate(arena, DType.BF16, rows, cols);
        for (long i = 0; i < t.numel(); i++) {
            t.setFloat(i, (float) (rnd.nextDouble() * 2 - 1));
        }
        return t;
    }

    /** Median CUDA-event time of one call in ms, after a warm-up call. */
    private double time(Runnable op) {
        op.run();
        gpu.synchronize();
        CudaContext cuda = gpu.context();
        double[] ms = new double[REPEATS];
        CUevent start = new CUevent();
        CUevent stop = new CUevent();
        CudaException.check(JCudaDriver.cuEventCreate(start, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate");
        CudaException.check(JCudaDriver.cuEventCreate(stop, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate");
        try {
            for (int i = 0; i < REPEATS; i++) {
                cuda.makeCurrent();
                CudaException.check(JCudaDriver.cuEventRecord(start, cuda.stream()), "cuEventRecord");
                op.run();
                cuda.makeCurrent();
                CudaException.check(JCudaDriver.cuEventRecord(stop, cuda.stream()), "cuEventRecord");
                CudaException.check(JCudaDriver.cuEventSynchronize(stop), "cuEventSynchronize");
                float[] elapsed = new float[1];
                CudaException.check(JCudaDriver.cuEventElapsedTime(elapsed, start, stop), "cuEventElapsedTime");
                ms[i] = elapsed[0];
            }
        } finally {
            JCudaDriver.cuEventDestroy(start);
            JCudaDriver.cuEventDestroy(stop);
        }
        gpu.synchronize();
        java.util.Arrays.sort(ms);
        return ms[REPEATS / 2];
    }
}
