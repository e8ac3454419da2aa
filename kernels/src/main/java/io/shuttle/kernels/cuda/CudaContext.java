package io.shuttle.kernels.cuda;

import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;

/**
 * One device's primary context, the backend's stream, its loaded kernels and its error word.
 * Everything the backend enqueues goes on this one stream, so operations run in call order and a
 * host copy after them sees their results.
 *
 * <p>The primary context (not a private one) is used so that other CUDA users in the process
 * (PyTorch in a benchmark, UCX's CUDA transports) share the same address space and allocations.
 * CUDA contexts are per thread: {@link #makeCurrent} runs at the top of every backend call.
 */
final class CudaContext implements AutoCloseable {

    private static final int ERROR_WORD_INTS = 4;

    private final int ordinal;
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final CUstream stream = new CUstream();
    private final Map<String, CUmodule> modules = new HashMap<>();
    private final Map<Kernel, CUfunction> functions = new EnumMap<>(Kernel.class);
    private final DeviceMemory.AddressedPtr errorWord = new DeviceMemory.AddressedPtr();
    private final String deviceName;
    private final int computeMajor;
    private final int computeMinor;

    CudaContext(int ordinal) {
        CudaProbe.Availability availability = CudaProbe.availability();
        if (!availability.available()) {
            throw new IllegalStateException("CUDA is not available: " + availability.reason());
        }
        if (ordinal < 0 || ordinal >= availability.deviceCount()) {
            throw new IllegalArgumentException("CUDA device " + ordinal + " does not exist; this machine has "
                    + availability.deviceCount() + " (0.." + (availability.deviceCount() - 1) + ")");
        }
        this.ordinal = ordinal;
        CudaException.check(JCudaDriver.cuDeviceGet(device, ordinal), "cuDeviceGet(" + ordinal + ")");
        CudaException.check(JCudaDriver.cuDevicePrimaryCtxRetain(context, device),
                "cuDevicePrimaryCtxRetain(device " + ordinal + ")");
        makeCurrent();
        byte[] name = new byte[256];
        CudaException.check(JCudaDriver.cuDeviceGetName(name, name.length, device), "cuDeviceGetName");
        deviceName = CudaProbe.cString(name);
        int[] v = new int[1];
        CudaException.check(JCudaDriver.cuDeviceGetAttribute(v,
                jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device),
                "cuDeviceGetAttribute(compute capability major)");
        computeMajor = v[0];
        CudaException.check(JCudaDriver.cuDeviceGetAttribute(v,
                jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device),
                "cuDeviceGetAttribute(compute capability minor)");
        computeMinor = v[0];
        CudaException.check(JCudaDriver.cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING),
                "cuStreamCreate");
        CudaException.check(JCudaDriver.cuMemAlloc(errorWord, ERROR_WORD_INTS * 4L), "cuMemAlloc(error word)");
        CudaException.check(JCudaDriver.cuMemsetD8Async(errorWord, (byte) 0, ERROR_WORD_INTS * 4L, stream),
                "cuMemsetD8Async(error word)");
        loadKernels();
    }

    String deviceName() {
        return deviceName;
    }

    String computeCapability() {
        return computeMajor + "." + computeMinor;
    }

    int ordinal() {
        return ordinal;
    }

    CUstream stream() {
        return stream;
    }

    CUcontext context() {
        return context;
    }

    /** Device address of the int[4] error word that index-checking kernels report into. */
    long errorWordAddress() {
        return errorWord.address();
    }

    void makeCurrent() {
        CudaException.check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent(device " + ordinal + ")");
    }

    /** Enqueues a kernel; the launch's own result is checked here (bad configuration, no resources). */
    void launch(Kernel kernel, long gridX, long gridY, int blockX, int blockY, KernelArgs args) {
        if (gridX <= 0 || gridY <= 0) {
            return;  // nothing to do (empty tensor)
        }
        if (gridX > Integer.MAX_VALUE || gridY > 65535) {
            throw new IllegalArgumentException(kernel.entry() + ": launch grid " + gridX + " x " + gridY
                    + " exceeds CUDA's limits (x < 2^31, y <= 65535); split the call into smaller batches");
        }
        CudaException.check(JCudaDriver.cuLaunchKernel(functions.get(kernel), (int) gridX, (int) gridY, 1,
                blockX, blockY, 1, 0, stream, args.toPointer(), null),
                "cuLaunchKernel(" + kernel.entry() + ", grid " + gridX + "x" + gridY + ", block " + blockX + "x"
                        + blockY + ")");
    }

    /**
     * Waits for everything enqueued so far (surfacing asynchronous kernel faults under the name of
     * the operation that waited) and throws the first index error any kernel reported.
     */
    void synchronize(String what) {
        CudaException.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize after " + what);
        int[] word = new int[ERROR_WORD_INTS];
        CudaException.check(JCudaDriver.cuMemcpyDtoH(Pointer.to(word), errorWord, ERROR_WORD_INTS * 4L),
                "cuMemcpyDtoH(error word)");
        if (word[0] != 0) {
            // Cleared in stream order, so that it is clear before any later kernel can report.
            CudaException.check(JCudaDriver.cuMemsetD8Async(errorWord, (byte) 0, ERROR_WORD_INTS * 4L, stream),
                    "cuMemsetD8Async(error word)");
            throw new IllegalArgumentException(KernelError.describe(word) + " (reported by a CUDA kernel during or"
                    + " before " + what + "; the outputs of that operation are invalid)");
        }
    }

    void copyHostToDevice(MemorySegment src, CUdeviceptr dst, long bytes) {
        forEachChunk(src, bytes, (chunk, offset, n) -> CudaException.check(
                JCudaDriver.cuMemcpyHtoDAsync(dst.withByteOffset(offset), chunk, n, stream),
                "cuMemcpyHtoDAsync(" + n + " bytes)"));
    }

    void copyDeviceToHost(CUdeviceptr src, MemorySegment dst, long bytes) {
        forEachChunk(dst, bytes, (chunk, offset, n) -> CudaException.check(
                JCudaDriver.cuMemcpyDtoHAsync(chunk, src.withByteOffset(offset), n, stream),
                "cuMemcpyDtoHAsync(" + n + " bytes)"));
    }

    void copyDeviceToDevice(CUdeviceptr src, CUdeviceptr dst, long bytes) {
        if (bytes > 0) {
            CudaException.check(JCudaDriver.cuMemcpyDtoDAsync(dst, src, bytes, stream),
                    "cuMemcpyDtoDAsync(" + bytes + " bytes)");
        }
    }

    void zero(CUdeviceptr dst, long bytes) {
        if (bytes > 0) {
            CudaException.check(JCudaDriver.cuMemsetD8Async(dst, (byte) 0, bytes, stream),
                    "cuMemsetD8Async(" + bytes + " bytes)");
        }
    }

    private interface ChunkCopy {
        void copy(Pointer host, long offset, long bytes);
    }

    /**
     * Host memory reaches JCuda as a direct ByteBuffer view of the segment, which Java limits to
     * 2 GiB; larger copies (big weights) go in 1 GiB chunks. Pageable host memory makes these
     * copies synchronous with the host, which is what copyFromHost's contract needs anyway.
     */
    private static void forEachChunk(MemorySegment host, long bytes, ChunkCopy copy) {
        final long chunk = 1L << 30;
        for (long offset = 0; offset < bytes; offset += chunk) {
            long n = Math.min(chunk, bytes - offset);
            copy.copy(Pointer.to(host.asSlice(offset, n).asByteBuffer()), offset, n);
        }
    }

    private void loadKernels() {
        for (Kernel k : Kernel.values()) {
            CUmodule module = modules.computeIfAbsent(k.module(), this::loadModule);
            CUfunction f = new CUfunction();
            CudaException.check(JCudaDriver.cuModuleGetFunction(f, module, k.entry()),
                    "cuModuleGetFunction(" + k.entry() + " in " + k.ptxResource() + ")");
            functions.put(k, f);
        }
    }

    private CUmodule loadModule(String name) {
        String resource = Kernel.PTX_RESOURCE_DIR + name + ".ptx";
        byte[] ptx;
        try (InputStream in = CudaContext.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("CUDA kernels missing from the classpath: " + resource + " (the"
                        + " shuttle-kernels jar was built without nvcc, so the cuda-ptx profile did not run;"
                        + " rebuild on a machine with /usr/local/bin/nvcc or /usr/local/cuda/bin/nvcc)");
            }
            ptx = in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + resource + ": " + e.getMessage(), e);
        }
        byte[] zeroTerminated = Arrays.copyOf(ptx, ptx.length + 1);
        CUmodule module = new CUmodule();
        CudaException.check(JCudaDriver.cuModuleLoadData(module, zeroTerminated),
                "cuModuleLoadData(" + resource + ") on " + deviceName + " (compute " + computeMajor + "."
                        + computeMinor + ")");
        return module;
    }

    @Override
    public void close() {
        makeCurrent();
        JCudaDriver.cuStreamSynchronize(stream);
        for (CUmodule m : modules.values()) {
            JCudaDriver.cuModuleUnload(m);
        }
        JCudaDriver.cuMemFree(errorWord);
        JCudaDriver.cuStreamDestroy(stream);
        JCudaDriver.cuDevicePrimaryCtxRelease(device);
    }
}
