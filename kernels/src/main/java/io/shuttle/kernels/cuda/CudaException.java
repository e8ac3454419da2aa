package io.shuttle.kernels.cuda;

import jcuda.driver.CUresult;

/**
 * A CUDA driver call failed: names the call, what it was doing, and the {@code CUresult} name
 * (e.g. {@code "cuMemAlloc(4096 bytes for Tensor[32, 32] F32) failed: CUDA_ERROR_OUT_OF_MEMORY"}).
 */
public final class CudaException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int result;

    public CudaException(String call, int result) {
        super(call + " failed: " + CUresult.stringFor(result) + hint(result));
        this.result = result;
    }

    /** The raw CUresult code. */
    public int result() {
        return result;
    }

    /** Throws unless {@code result} is CUDA_SUCCESS. */
    static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException(call, result);
        }
    }

    private static String hint(int result) {
        return switch (result) {
            case CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION, CUresult.CUDA_ERROR_INVALID_PTX ->
                    " (the kernels are PTX ISA 9.0 for sm_90, built by nvcc 13: the driver must be r580 or newer"
                            + " and the GPU compute capability 9.0 or newer)";
            case CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU ->
                    " (the kernels target sm_90; this GPU cannot run them)";
            case CUresult.CUDA_ERROR_ILLEGAL_ADDRESS ->
                    " (a kernel touched memory outside its tensors; the CUDA context is unusable now: restart the"
                            + " process)";
            default -> "";
        };
    }
}
