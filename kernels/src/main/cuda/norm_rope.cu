// Row-wise RMSNorm (optionally fused with the residual add before it) and rotary embedding.
// RMSNorm: one block per row; the sum of squares is a block reduction, then each thread scales
// the elements it read. The fused form saves a pass: h += delta and the norm of the new h read
// h once from memory instead of twice.
#include "shuttle_common.cuh"

using namespace shuttle;

template <int DT>
__device__ void rmsnorm_row(float* h, const float* delta, const float* x, const void* weight, float eps,
                            float* out, long long d) {
    __shared__ float scratch[32];
    const long long row = blockIdx.x;
    float ss = 0.0f;
    if (delta != nullptr) {
        // Fused residual: h[row] += delta[row], and the norm reads the sum.
        float* hr = h + row * d;
        const float* dr = delta + row * d;
        for (long long c = threadIdx.x; c < d; c += blockDim.x) {
            const float v = hr[c] + dr[c];
            hr[c] = v;
            ss += v * v;
        }
        x = h;
    } else {
        const float* xr = x + row * d;
        for (long long c = threadIdx.x; c < d; c += blockDim.x) {
            const float v = xr[c];
            ss += v * v;
        }
    }
    const float total = block_sum(ss, scratch);
    const float inv = 1.0f / sqrtf(total / (float) d + eps);
    // Each thread rescales exactly the elements it read above, so out may alias x.
    const float* xr = x + row * d;
    float* o = out + row * d;
    for (long long c = threadIdx.x; c < d; c += blockDim.x) {
        o[c] = xr[c] * inv * load_elem<DT>(weight, c);
    }
}

extern "C" __global__ void shuttle_rmsnorm_f32(const float* x, const void* w, float eps, float* out, long long d) {
    rmsnorm_row<DT_F32>(nullptr, nullptr, x, w, eps, out, d);
}

extern "C" __global__ void shuttle_rmsnorm_bf16(const float* x, const void* w, float eps, float* out, long long d) {
    rmsnorm_row<DT_BF16>(nullptr, nullptr, x, w, eps, out, d);
}

extern "C" __global__ void shuttle_rmsnorm_f16(const float* x, const void* w, float eps, float* out, long long d) {
    rmsnorm_row<DT_F16>(nullptr, nullptr, x, w, eps, out, d);
}

extern "C" __global__ void shuttle_add_rmsnorm_f32(float* h, const float* delta, const void* w, float eps, float* out,
                                                   long long d) {
    rmsnorm_row<DT_F32>(h, delta, nullptr, w, eps, out, d);
}

extern "C" __global__ void shuttle_add_rmsnorm_bf16(float* h, const float* delta, const void* w, float eps,
                                                    float* out, long long d) {
    rmsnorm_row<DT_BF16>(h, delta, nullptr, w, eps, out, d);
}

extern "C" __global__ void shuttle_add_rmsnorm_f16(float* h, const float* delta, const void* w, float eps, float* out,
                                                   long long d) {
    rmsnorm_row<DT_F16>(h, delta, nullptr, w, eps, out, d);
}

// Hugging Face rotate_half RoPE in place; one thread per (row, head, pair). The angle is computed
// in double, as the scalar oracle does: at positions in the thousands an f32 angle is already off
// by ~1e-4 rad.
extern "C" __global__ void shuttle_rope(float* x, const int* positions, long long n, int numHeads, int headDim,
                                        float theta, int* err) {
    const int half = headDim / 2;
    const long long total = n * numHeads * half;
    for (long long i = grid_stride_start(); i < total; i += grid_stride_step()) {
        const int c = (int) (i % half);
        const long long rh = i / half;
        const int h = (int) (rh % numHeads);
        const long long row = rh / numHeads;
        const int pos = positions[row];
        if (pos < 0) {
            if (c == 0 && h == 0) {
                report(err, ERR_ROPE_POS, row, pos, 0);
            }
            continue;
        }
        const double angle = pos * (1.0 / pow((double) theta, 2.0 * c / headDim));
        double sn, cs;
        sincos(angle, &sn, &cs);
        float* base = x + row * ((long long) numHeads * headDim) + (long long) h * headDim;
        const double x1 = base[c];
        const double x2 = base[c + half];
        base[c] = (float) (x1 * cs - x2 * sn);
        base[c + half] = (float) (x2 * cs + x1 * sn);
    }
}
