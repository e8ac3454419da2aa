package io.shuttle.kernels.cuda;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * Device allocations of one backend, tracked by base address so that {@link #owns} can tell a
 * tensor (or a row slice of one) in this backend's memory from host memory or another backend's,
 * and {@link #close} can free whatever is left. Each allocation is one {@code cuMemAlloc}
 * (256-byte aligned); tensors are expected to be allocated at start-up, not per step.
 *
 * <p>Zeroing runs on the backend's stream (a plain {@code cuMemsetD8} would run on the legacy
 * default stream, which a non-blocking stream does not wait for, and could land after a later
 * upload); a free first waits for the stream, since queued kernels may still use the memory.
 * Callers make the backend's context current before calling in.
 */
final class DeviceMemory implements AutoCloseable {

    private record Allocation(CUdeviceptr ptr, long bytes) {
    }

    private final ConcurrentSkipListMap<Long, Allocation> allocations = new ConcurrentSkipListMap<>();
    private final CUstream stream;

    DeviceMemory(CUstream stream) {
        this.stream = stream;
    }

    /** A device tensor, zeroed in stream order (before anything enqueued after this call). */
    Tensor allocate(DType dtype, long[] shape, String owner) {
        long numel = 1;
        for (long s : shape) {
            if (s < 0) {
                throw new IllegalArgumentException(owner + ": allocate: negative dimension in shape "
                        + Arrays.toString(shape));
            }
            numel = Math.multiplyExact(numel, s);
        }
        // At least one byte so that every live tensor has a distinct base address.
        long bytes = Math.max(1, numel * dtype.byteSize());
        AddressedPtr ptr = new AddressedPtr();
        CudaException.check(JCudaDriver.cuMemAlloc(ptr, bytes),
                "cuMemAlloc(" + bytes + " bytes for " + dtype + Arrays.toString(shape) + ")");
        CudaException.check(JCudaDriver.cuMemsetD8Async(ptr, (byte) 0, bytes, stream),
                "cuMemsetD8Async(" + bytes + " bytes)");
        long address = ptr.address();
        allocations.put(address, new Allocation(ptr, bytes));
        return Tensor.ofDevice(MemorySegment.ofAddress(address).reinterpret(bytes), dtype, shape);
    }

    void release(Tensor tensor, String owner) {
        Allocation a = allocations.remove(tensor.data().address());
        if (a == null || !tensor.isDevice()) {
            throw new IllegalArgumentException(owner + ": release of " + tensor
                    + " which this backend did not allocate (or which was already released)");
        }
        CudaException.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize before freeing " + tensor);
        CudaException.check(JCudaDriver.cuMemFree(a.ptr()), "cuMemFree(" + tensor + ")");
    }

    /** True if all of {@code t}'s bytes lie inside one live allocation of this backend. */
    boolean owns(Tensor t) {
        if (!t.isDevice()) {
            return false;
        }
        long address = t.data().address();
        Map.Entry<Long, Allocation> e = allocations.floorEntry(address);
        return e != null && address + t.byteSize() <= e.getKey() + e.getValue().bytes();
    }

    /** A JCuda pointer at an address inside one of this backend's allocations (for copies). */
    CUdeviceptr pointer(Tensor t) {
        long address = t.data().address();
        Map.Entry<Long, Allocation> e = allocations.floorEntry(address);
        if (e == null || address >= e.getKey() + e.getValue().bytes()) {
            throw new IllegalArgumentException(t + " is not in this CUDA backend's memory");
        }
        return e.getValue().ptr().withByteOffset(address - e.getKey());
    }

    int liveAllocations() {
        return allocations.size();
    }

    @Override
    public void close() {
        JCudaDriver.cuStreamSynchronize(stream);
        for (Long address : allocations.keySet()) {
            Allocation a = allocations.remove(address);
            if (a != null) {
                JCudaDriver.cuMemFree(a.ptr());  // best effort at shutdown; the context goes next
            }
        }
    }

    /** A JCuda device pointer that can tell its raw address (JCuda keeps that accessor protected). */
    static final class AddressedPtr extends CUdeviceptr {
        long address() {
            return getNativePointer() + getByteOffset();
        }
    }
}
