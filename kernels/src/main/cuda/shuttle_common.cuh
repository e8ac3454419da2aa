// Shared device helpers for Shuttle's kernels. Every kernel that reads an index (token id, slot,
// block table entry, row index) checks it and, when it is out of range, reports it through the
// backend's error word instead of touching memory it must not; CudaBackend turns the report into
// an IllegalArgumentException naming the operation (see KernelError.java, whose codes match).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>

namespace shuttle {

// Codes of the error word; keep in step with io.shuttle.kernels.cuda.KernelError.
enum ErrorCode {
    ERR_NONE = 0,
    ERR_EMBEDDING_ID = 1,
    ERR_WRITE_KV_SLOT = 2,
    ERR_ATTN_SEQ = 3,
    ERR_ATTN_POS = 4,
    ERR_ATTN_BLOCK = 5,
    ERR_GATHER_INDEX = 6,
    ERR_SCATTER_INDEX = 7,
    ERR_ROPE_POS = 8,
    ERR_ROUTER_NAN = 9
};

// Element types of weights; keep in step with CudaBackend's dtype codes.
enum DTypeCode { DT_F32 = 0, DT_BF16 = 1, DT_F16 = 2 };

// err[0] = code of the first error since the last check, err[1] = row, err[2] = bad value,
// err[3] = the bound it broke. Only the first reporter writes the details.
__device__ __forceinline__ void report(int* err, int code, long long row, long long value, long long bound) {
    if (atomicCAS(err, 0, code) == 0) {
        err[1] = (int) row;
        err[2] = (int) value;
        err[3] = (int) bound;
    }
}

template <int DT>
__device__ __forceinline__ float load_elem(const void* base, long long i) {
    if (DT == DT_F32) {
        return static_cast<const float*>(base)[i];
    } else if (DT == DT_BF16) {
        // bf16 is the upper half of an f32: exact widening.
        return __uint_as_float(((unsigned int) static_cast<const unsigned short*>(base)[i]) << 16);
    } else {
        return __half2float(static_cast<const __half*>(base)[i]);
    }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

// Sum over a block of up to 1024 threads; every thread gets the result. scratch: 32 floats.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    float total = 0.0f;
    for (int w = 0; w < warps; w++) {
        total += scratch[w];
    }
    return total;
}

__device__ __forceinline__ long long grid_stride_start() {
    return (long long) blockIdx.x * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ long long grid_stride_step() {
    return (long long) gridDim.x * blockDim.x;
}

}  // namespace shuttle
