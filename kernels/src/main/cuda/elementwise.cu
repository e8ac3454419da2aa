// Element-wise and row-moving kernels: residual add, SwiGLU's SiLU-mul, embedding lookup, row
// gather/scatter-add, the paged KV write, and the f32 -> bf16 row gather that feeds the tensor-core
// GEMMs (one pass: gathering the expert's rows and rounding them to bf16 happen together).
// All are grid-stride loops over elements; one thread per element keeps every access coalesced.
#include "shuttle_common.cuh"

using namespace shuttle;

extern "C" __global__ void shuttle_add(const float* a, const float* b, float* out, long long n) {
    for (long long i = grid_stride_start(); i < n; i += grid_stride_step()) {
        out[i] = a[i] + b[i];
    }
}

extern "C" __global__ void shuttle_silu_mul(const float* gate, const float* up, float* out, long long n) {
    for (long long i = grid_stride_start(); i < n; i += grid_stride_step()) {
        const float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

template <int DT>
__device__ void embedding(const void* table, const int* ids, float* out, long long n, long long d, long long vocab,
                          int* err) {
    const long long total = n * d;
    for (long long i = grid_stride_start(); i < total; i += grid_stride_step()) {
        const long long row = i / d;
        const long long c = i - row * d;
        const int id = ids[row];
        if (id < 0 || id >= vocab) {
            if (c == 0) {
                report(err, ERR_EMBEDDING_ID, row, id, vocab);
            }
            out[i] = __int_as_float(0x7fc00000);
            continue;
        }
        out[i] = load_elem<DT>(table, (long long) id * d + c);
    }
}

extern "C" __global__ void shuttle_embedding_f32(const void* t, const int* ids, float* out, long long n, long long d,
                                                 long long vocab, int* err) {
    embedding<DT_F32>(t, ids, out, n, d, vocab, err);
}

extern "C" __global__ void shuttle_embedding_bf16(const void* t, const int* ids, float* out, long long n, long long d,
                                                  long long vocab, int* err) {
    embedding<DT_BF16>(t, ids, out, n, d, vocab, err);
}

extern "C" __global__ void shuttle_embedding_f16(const void* t, const int* ids, float* out, long long n, long long d,
                                                 long long vocab, int* err) {
    embedding<DT_F16>(t, ids, out, n, d, vocab, err);
}

// out[i] = src[index[i]], f32 rows of d elements.
extern "C" __global__ void shuttle_gather_rows(const float* src, const int* index, float* out, long long r,
                                               long long d, long long srcRows, int* err) {
    const long long total = r * d;
    for (long long i = grid_stride_start(); i < total; i += grid_stride_step()) {
        const long long row = i / d;
        const long long c = i - row * d;
        const int s = index[row];
        if (s < 0 || s >= srcRows) {
            if (c == 0) {
                report(err, ERR_GATHER_INDEX, row, s, srcRows);
            }
            out[i] = __int_as_float(0x7fc00000);
            continue;
        }
        out[i] = src[(long long) s * d + c];
    }
}

// out[index[i]] += scale[i] * src[i]; the indices are distinct within one call, so no atomics.
extern "C" __global__ void shuttle_scatter_add_rows(const float* src, const int* index, const float* scale,
                                                    float* out, long long r, long long d, long long outRows,
                                                    int* err) {
    const long long total = r * d;
    for (long long i = grid_stride_start(); i < total; i += grid_stride_step()) {
        const long long row = i / d;
        const long long c = i - row * d;
        const int dst = index[row];
        if (dst < 0 || dst >= outRows) {
            if (c == 0) {
                report(err, ERR_SCATTER_INDEX, row, dst, outRows);
            }
            continue;
        }
        const long long o = (long long) dst * d + c;
        out[o] = out[o] + scale[row] * src[i];
    }
}

// kCache[slots[i]] = k[i], vCache[slots[i]] = v[i]; rows of kvDim f32.
extern "C" __global__ void shuttle_write_kv(const float* k, const float* v, float* kCache, float* vCache,
                                            const int* slots, long long n, long long kvDim, long long numSlots,
                                            int* err) {
    const long long total = n * kvDim;
    for (long long i = grid_stride_start(); i < total; i += grid_stride_step()) {
        const long long row = i / kvDim;
        const long long c = i - row * kvDim;
        const int slot = slots[row];
        if (slot < 0 || slot >= numSlots) {
            if (c == 0) {
                report(err, ERR_WRITE_KV_SLOT, row, slot, numSlots);
            }
            continue;
        }
        const long long o = (long long) slot * kvDim + c;
        kCache[o] = k[i];
        vCache[o] = v[i];
    }
}

// out[i] = bf16(src[index == null ? i : index[i]]): rows of d elements, rounded to nearest even.
// With an index this is the expert gather (grouped rows in, bf16 GEMM operand out) in one pass.
extern "C" __global__ void shuttle_rows_to_bf16(const float* src, const int* index, __nv_bfloat16* out, long long r,
                                                long long d, long long srcRows, int* err) {
    const long long total = r * d;
    for (long long i = grid_stride_start(); i < total; i += grid_stride_step()) {
        const long long row = i / d;
        const long long c = i - row * d;
        long long s = row;
        if (index != nullptr) {
            const int idx = index[row];
            if (idx < 0 || idx >= srcRows) {
                if (c == 0) {
                    report(err, ERR_GATHER_INDEX, row, idx, srcRows);
                }
                out[i] = __float2bfloat16_rn(__int_as_float(0x7fc00000));
                continue;
            }
            s = idx;
        }
        out[i] = __float2bfloat16_rn(src[s * d + c]);
    }
}
