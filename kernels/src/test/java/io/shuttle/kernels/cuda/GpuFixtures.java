package io.shuttle.kernels.cuda;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Opening the GPU (or skipping), moving tensors to and from it, poisoning outputs, comparing. */
final class GpuFixtures {
    private GpuFixtures() {
    }

    /**
     * Points java.io.tmpdir at the build folder before JCuda first loads (it unpacks its native
     * libraries there and never deletes them). The folder comes from the Surefire configuration.
     */
    static void useBuildTmpDir() {
        String dir = System.getProperty("shuttle.jcuda.tmpdir");
        if (dir != null && !dir.isBlank()) {
            try {
                Files.createDirectories(Path.of(dir));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create " + dir, e);
            }
            System.setProperty("java.io.tmpdir", dir);
        }
    }

    /**
     * A CUDA backend that synchronises and checks after every operation, or null without a GPU
     * (each test then skips through {@link #assumeGpu}, so the reason shows per test).
     */
    static CudaBackend openCheckedOrNull() {
        useBuildTmpDir();
        return CudaProbe.available() ? new CudaBackend(new CudaBackend.Options(0, true)) : null;
    }

    static void assumeGpu(CudaBackend gpu) {
        assumeTrue(gpu != null, () -> "skipped, no GPU here: " + CudaProbe.reason());
    }

    static Tensor upload(CudaBackend gpu, Tensor host) {
        Tensor t = gpu.allocate(host.dtype(), host.shape());
        gpu.copyFromHost(host.data(), t);
        return t;
    }

    static Tensor download(CudaBackend gpu, Tensor device, Arena arena) {
        Tensor h = Tensor.allocate(arena, device.dtype(), device.shape());
        gpu.copyToHost(device, h.data());
        return h;
    }

    /** A device tensor filled with 0xFF bytes: NaN for F32/BF16/F16, -1 for I32, so unwritten outputs show. */
    static Tensor poisoned(CudaBackend gpu, Arena arena, DType dtype, long... shape) {
        Tensor t = gpu.allocate(dtype, shape);
        poison(gpu, arena, t);
        return t;
    }

    static void poison(CudaBackend gpu, Arena arena, Tensor t) {
        MemorySegment ff = arena.allocate(Math.max(1, t.byteSize()));
        ff.fill((byte) 0xFF);
        gpu.copyFromHost(ff, t);
    }

    /**
     * Norm-wise relative error ‖actual − expected‖ / ‖expected‖ ≤ tol, and every element finite
     * where expected is (a poisoned element left unwritten is NaN and fails here).
     */
    static void assertRelErr(Tensor expected, Tensor actual, double tol, String what) {
        if (expected.numel() != actual.numel()) {
            fail(what + ": " + expected.numel() + " expected elements, got " + actual.numel());
        }
        double diff = 0;
        double norm = 0;
        for (long i = 0; i < expected.numel(); i++) {
            double e = expected.getFloat(i);
            double a = actual.getFloat(i);
            if (Double.isFinite(e) && !Double.isFinite(a)) {
                fail(what + ": element " + i + " is " + a + " (expected " + e + "): not written or overflowed");
            }
            diff += (a - e) * (a - e);
            norm += e * e;
        }
        double rel = Math.sqrt(diff) / Math.max(Math.sqrt(norm), 1e-30);
        assertTrue(rel <= tol, what + ": relative error " + rel + " exceeds " + tol);
    }
}
