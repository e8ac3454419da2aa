// Tensor-core GEMM over groups: for each group g (an expert, or one of several projections of the
// same input), C_g[rows_g, n_g] = A_g[rows_g, k] . B_g[n_g, k]^T with A and B bf16 and f32
// accumulation (WMMA 16x16x16 bf16 fragments, mma.sync underneath). B is a Hugging Face
// [out_features, in_features] weight, which is exactly B^T stored row-major, i.e. the
// column-major K x N operand WMMA wants, so no transpose is ever materialised.
//
// Tiling: a 128-thread block computes a 64 x 64 tile of one group (4 warps in 2 x 2, each 32 x 32
// = 2 x 2 fragments), stepping k by 32 with the next k-slice prefetched into registers while the
// current one is multiplied out of shared memory. blockIdx.x walks n-tiles, blockIdx.y walks the
// m-tiles of all groups back to back (GroupedGemm.tileStart), so one launch covers every expert.
//
// Epilogues (fused, so the f32 intermediate never goes back to memory):
//   EPI_STORE   C f32 [rows, n]
//   EPI_SWIGLU  two weights (gate w1, up w3) in the same block: H bf16 = silu(A.w1^T) * (A.w3^T),
//               the operand of the down projection
//   EPI_SCATTER out[index[row]] += scale[row] * (A.w2^T)[row] with atomicAdd, because a token
//               routed to k experts receives k contributions from different blocks
//
// Requirements checked by the host: k % 8 == 0 and every A/B base 16-byte aligned (16-byte
// vector loads of whole 8-element chunks); at most MAX_GROUPS groups per launch.
#include <mma.h>

#include "shuttle_common.cuh"

using namespace nvcuda;
using namespace shuttle;

#define MAX_GROUPS 16

// Passed by value; every field is 8 bytes so the Java side writes it without padding rules.
struct GroupedGemm {
    unsigned long long a[MAX_GROUPS];    // bf16 [rows, k], row stride k
    unsigned long long b0[MAX_GROUPS];   // bf16 [n, k]
    unsigned long long b1[MAX_GROUPS];   // bf16 [n, k] (SwiGLU up projection) or 0
    unsigned long long c[MAX_GROUPS];    // f32 [rows, n] (store) or bf16 [rows, n] (SwiGLU); unused for scatter
    long long rows[MAX_GROUPS];
    long long n[MAX_GROUPS];
    long long rowStart[MAX_GROUPS];      // first row of the group in index/scale (scatter)
    long long tileStart[MAX_GROUPS + 1]; // prefix sums of ceil(rows / 64)
    long long groups;
    long long k;
    unsigned long long scatterOut;       // f32 [outRows, n]
    unsigned long long index;            // i32, one destination row per A row (scatter)
    unsigned long long scale;            // f32, one factor per A row (scatter)
    long long outRows;
    unsigned long long err;              // int[4] error word
};

namespace {

constexpr int BM = 64;
constexpr int BN = 64;
constexpr int BK = 32;
constexpr int LDS = BK + 8;      // bf16 elements per shared row: 80 bytes, keeps 32-byte fragment alignment
constexpr int LDC = BN + 4;      // f32 elements per shared output row
constexpr int THREADS = 128;
constexpr int CHUNKS = BM * BK / 8 / THREADS;  // 16-byte chunks per thread per operand tile (= 2)

enum { EPI_STORE = 0, EPI_SWIGLU = 1, EPI_SCATTER = 2 };

typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> FragA;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> FragB;
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> FragC;

// Loads this thread's chunks of a 64 x 32 tile (rows r0.., columns k0..) into registers; rows at
// or past `rows` read as zero. Chunk c covers row c / 4, columns (c % 4) * 8 .. + 8.
__device__ __forceinline__ void load_tile(const __nv_bfloat16* base, long long r0, long long rows, long long k,
                                          long long k0, uint4 (&reg)[CHUNKS]) {
#pragma unroll
    for (int i = 0; i < CHUNKS; i++) {
        const int c = threadIdx.x + i * THREADS;
        const int r = c >> 2;
        const int kc = (c & 3) * 8;
        const long long gr = r0 + r;
        const long long gk = k0 + kc;
        if (gr < rows && gk < k) {
            reg[i] = *reinterpret_cast<const uint4*>(base + gr * k + gk);
        } else {
            reg[i] = make_uint4(0, 0, 0, 0);
        }
    }
}

__device__ __forceinline__ void store_tile(__nv_bfloat16* s, const uint4 (&reg)[CHUNKS]) {
#pragma unroll
    for (int i = 0; i < CHUNKS; i++) {
        const int c = threadIdx.x + i * THREADS;
        *reinterpret_cast<uint4*>(s + (c >> 2) * LDS + (c & 3) * 8) = reg[i];
    }
}

template <int EPI>
__device__ void grouped_gemm(const GroupedGemm& p) {
    constexpr int NB = EPI == EPI_SWIGLU ? 2 : 1;  // weights multiplied per block
    constexpr int AB_BYTES = (BM + NB * BN) * LDS * 2;
    constexpr int C_BYTES = NB * BM * LDC * 4;
    __shared__ __align__(128) unsigned char smem[AB_BYTES > C_BYTES ? AB_BYTES : C_BYTES];
    __nv_bfloat16* sA = reinterpret_cast<__nv_bfloat16*>(smem);
    __nv_bfloat16* sB = sA + BM * LDS;  // NB tiles of BN * LDS
    float* sC = reinterpret_cast<float*>(smem);  // reused after the main loop

    // Which group and m-tile this block computes.
    const long long tile = blockIdx.y;
    int g = 0;
    while (g + 1 < p.groups && tile >= p.tileStart[g + 1]) {
        g++;
    }
    const long long rows = p.rows[g];
    const long long n = p.n[g];
    const long long k = p.k;
    const long long m0 = (tile - p.tileStart[g]) * BM;
    const long long n0 = (long long) blockIdx.x * BN;
    if (n0 >= n || m0 >= rows) {
        return;  // uniform across the block: groups narrower than the grid
    }
    const __nv_bfloat16* A = reinterpret_cast<const __nv_bfloat16*>(p.a[g]);
    const __nv_bfloat16* B[NB];
    B[0] = reinterpret_cast<const __nv_bfloat16*>(p.b0[g]);
    if (NB == 2) {
        B[NB - 1] = reinterpret_cast<const __nv_bfloat16*>(p.b1[g]);
    }

    const int warp = threadIdx.x >> 5;
    const int wm = (warp >> 1) * 32;
    const int wn = (warp & 1) * 32;

    FragC acc[NB][2][2];
#pragma unroll
    for (int b = 0; b < NB; b++) {
#pragma unroll
        for (int i = 0; i < 2; i++) {
#pragma unroll
            for (int j = 0; j < 2; j++) {
                wmma::fill_fragment(acc[b][i][j], 0.0f);
            }
        }
    }

    uint4 ra[CHUNKS];
    uint4 rb[NB][CHUNKS];
    load_tile(A, m0, rows, k, 0, ra);
#pragma unroll
    for (int b = 0; b < NB; b++) {
        load_tile(B[b], n0, n, k, 0, rb[b]);
    }
    store_tile(sA, ra);
#pragma unroll
    for (int b = 0; b < NB; b++) {
        store_tile(sB + b * BN * LDS, rb[b]);
    }
    __syncthreads();

    const long long ktiles = (k + BK - 1) / BK;
    for (long long kt = 0; kt < ktiles; kt++) {
        const bool more = kt + 1 < ktiles;
        if (more) {
            // Prefetch the next k-slice while the tensor cores work on this one.
            load_tile(A, m0, rows, k, (kt + 1) * BK, ra);
#pragma unroll
            for (int b = 0; b < NB; b++) {
                load_tile(B[b], n0, n, k, (kt + 1) * BK, rb[b]);
            }
        }
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
            FragA fa[2];
#pragma unroll
            for (int i = 0; i < 2; i++) {
                wmma::load_matrix_sync(fa[i], sA + (wm + i * 16) * LDS + kk, LDS);
            }
#pragma unroll
            for (int b = 0; b < NB; b++) {
#pragma unroll
                for (int j = 0; j < 2; j++) {
                    FragB fb;
                    wmma::load_matrix_sync(fb, sB + b * BN * LDS + (wn + j * 16) * LDS + kk, LDS);
#pragma unroll
                    for (int i = 0; i < 2; i++) {
                        wmma::mma_sync(acc[b][i][j], fa[i], fb, acc[b][i][j]);
                    }
                }
            }
        }
        __syncthreads();
        if (more) {
            store_tile(sA, ra);
#pragma unroll
            for (int b = 0; b < NB; b++) {
                store_tile(sB + b * BN * LDS, rb[b]);
            }
        }
        __syncthreads();
    }

    // Accumulators to shared memory (the operand tiles are dead now), then a coalesced epilogue.
#pragma unroll
    for (int b = 0; b < NB; b++) {
#pragma unroll
        for (int i = 0; i < 2; i++) {
#pragma unroll
            for (int j = 0; j < 2; j++) {
                wmma::store_matrix_sync(sC + b * BM * LDC + (wm + i * 16) * LDC + wn + j * 16, acc[b][i][j], LDC,
                                        wmma::mem_row_major);
            }
        }
    }
    __syncthreads();

    for (int idx = threadIdx.x; idx < BM * BN; idx += THREADS) {
        const int r = idx / BN;
        const int cc = idx - r * BN;
        const long long row = m0 + r;
        const long long col = n0 + cc;
        if (row >= rows || col >= n) {
            continue;
        }
        const float v = sC[r * LDC + cc];
        if (EPI == EPI_STORE) {
            reinterpret_cast<float*>(p.c[g])[row * n + col] = v;
        } else if (EPI == EPI_SWIGLU) {
            const float up = sC[(NB - 1) * BM * LDC + r * LDC + cc];
            const float h = v / (1.0f + expf(-v)) * up;
            reinterpret_cast<__nv_bfloat16*>(p.c[g])[row * n + col] = __float2bfloat16_rn(h);
        } else {
            const long long gr = p.rowStart[g] + row;
            const int dst = reinterpret_cast<const int*>(p.index)[gr];
            if (dst < 0 || dst >= p.outRows) {
                if (col == 0) {
                    report(reinterpret_cast<int*>(p.err), ERR_SCATTER_INDEX, gr, dst, p.outRows);
                }
                continue;
            }
            const float s = reinterpret_cast<const float*>(p.scale)[gr];
            atomicAdd(reinterpret_cast<float*>(p.scatterOut) + (long long) dst * n + col, s * v);
        }
    }
}

}  // namespace

extern "C" __global__ void __launch_bounds__(128) shuttle_gemm_bf16(const GroupedGemm p) {
    grouped_gemm<EPI_STORE>(p);
}

extern "C" __global__ void __launch_bounds__(128) shuttle_gemm_bf16_swiglu(const GroupedGemm p) {
    grouped_gemm<EPI_SWIGLU>(p);
}

extern "C" __global__ void __launch_bounds__(128) shuttle_gemm_bf16_scatter(const GroupedGemm p) {
    grouped_gemm<EPI_SCATTER>(p);
}
