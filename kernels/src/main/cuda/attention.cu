// Paged-KV attention over an f32 cache (the Backend's cache dtype), f32 accumulation, online
// softmax (running max m, running sum l, rescaled accumulator), grouped-query heads: one CUDA
// block serves all the query heads of one KV head (up to GMAX of them), so each key and value
// row is read once for the whole group.
//
// Layout inside a warp: lane L holds head elements d = L + 32 t (t < MAXT), so a key row is one
// coalesced load per warp; a score is a warp sum.
//
// Decode (few query rows): block = (query row, KV head); its 4 warps take keys p = warp, warp+4,
// ... and are merged at the end. Prefill (many rows): block = (ROWS consecutive query rows, KV
// head); keys and values of the tile's leading sequence are staged in shared memory in chunks of
// KT keys and read by every warp (one warp per query row) from there, which divides the cache
// traffic by ROWS; rows of another sequence in the same tile read the cache directly.
#include "shuttle_common.cuh"

using namespace shuttle;

namespace {

constexpr int DECODE_WARPS = 4;
constexpr int PREFILL_ROWS = 8;  // warps per prefill block, one query row each
constexpr int PREFILL_KT = 32;   // keys per shared-memory chunk (prefill, headDim <= 128)

struct AttnArgs {
    const float* q;
    const float* kc;
    const float* vc;
    const int* tables;
    const int* tokenSeq;
    const int* tokenPos;
    float* out;
    long long n;
    int numHeads;
    int numKvHeads;
    int headDim;
    int blockSize;
    int maxBlocks;
    int numSeqs;
    long long numCacheBlocks;
    float scale;
    int* err;
};

// Which query heads a block serves: heads [h0, h0 + hc) of KV head kvh.
struct HeadChunk {
    int kvh;
    int h0;
    int hc;
};

template <int GMAX>
__device__ __forceinline__ HeadChunk head_chunk(const AttnArgs& a, int y) {
    const int group = a.numHeads / a.numKvHeads;
    const int chunks = (group + GMAX - 1) / GMAX;
    HeadChunk h;
    h.kvh = y / chunks;
    h.h0 = h.kvh * group + (y % chunks) * GMAX;
    h.hc = min(GMAX, h.kvh * group + group - h.h0);
    return h;
}

// Validates a query row's sequence and position; reports and returns false when they are bad.
__device__ __forceinline__ bool row_ok(const AttnArgs& a, long long row, int seq, int pos, bool doReport) {
    if (seq < 0 || seq >= a.numSeqs) {
        if (doReport) {
            report(a.err, ERR_ATTN_SEQ, row, seq, a.numSeqs);
        }
        return false;
    }
    if (pos < 0 || pos / a.blockSize >= a.maxBlocks) {
        if (doReport) {
            report(a.err, ERR_ATTN_POS, row, pos, (long long) a.maxBlocks * a.blockSize);
        }
        return false;
    }
    return true;
}

// Offset of key position p of sequence seq in the cache (in floats, at KV head kvh), or -1 if
// the block table names a block outside the cache (reported).
__device__ __forceinline__ long long kv_offset(const AttnArgs& a, int seq, int p, int kvh, long long row) {
    const int blk = a.tables[(long long) seq * a.maxBlocks + p / a.blockSize];
    if (blk < 0 || blk >= a.numCacheBlocks) {
        report(a.err, ERR_ATTN_BLOCK, row, blk, a.numCacheBlocks);
        return -1;
    }
    const long long kvRow = (long long) a.numKvHeads * a.headDim;
    return ((long long) blk * a.blockSize + p % a.blockSize) * kvRow + (long long) kvh * a.headDim;
}

// Per-warp online-softmax state for up to GMAX heads; lane holds elements lane + 32 t.
template <int MAXT, int GMAX>
struct WarpState {
    float q[GMAX][MAXT];
    float acc[GMAX][MAXT];
    float m[GMAX];
    float l[GMAX];

    __device__ __forceinline__ void init(const AttnArgs& a, long long row, const HeadChunk& hc, int lane) {
        const long long qRow = (long long) a.numHeads * a.headDim;
#pragma unroll
        for (int g = 0; g < GMAX; g++) {
            m[g] = -INFINITY;
            l[g] = 0.0f;
#pragma unroll
            for (int t = 0; t < MAXT; t++) {
                const int d = lane + 32 * t;
                acc[g][t] = 0.0f;
                q[g][t] = (g < hc.hc && d < a.headDim) ? a.q[row * qRow + (long long) (hc.h0 + g) * a.headDim + d] : 0.0f;
            }
        }
    }

    // One key/value pair (k, v: this lane's elements) folded into every head's state.
    __device__ __forceinline__ void step(const float (&k)[MAXT], const float (&v)[MAXT], int heads, float scale) {
#pragma unroll
        for (int g = 0; g < GMAX; g++) {
            if (g < heads) {
                float s = 0.0f;
#pragma unroll
                for (int t = 0; t < MAXT; t++) {
                    s += q[g][t] * k[t];
                }
                s = warp_sum(s) * scale;
                const float mNew = fmaxf(m[g], s);
                const float corr = expf(m[g] - mNew);
                const float p = expf(s - mNew);
                l[g] = l[g] * corr + p;
#pragma unroll
                for (int t = 0; t < MAXT; t++) {
                    acc[g][t] = acc[g][t] * corr + p * v[t];
                }
                m[g] = mNew;
            }
        }
    }

    // Reads key/value position p from the cache into k, v; false if its block is bad.
    __device__ __forceinline__ bool load_global(const AttnArgs& a, int seq, int p, int kvh, long long row, int lane,
                                                float (&k)[MAXT], float (&v)[MAXT]) const {
        const long long off = kv_offset(a, seq, p, kvh, row);
        if (off < 0) {
            return false;
        }
#pragma unroll
        for (int t = 0; t < MAXT; t++) {
            const int d = lane + 32 * t;
            k[t] = d < a.headDim ? a.kc[off + d] : 0.0f;
            v[t] = d < a.headDim ? a.vc[off + d] : 0.0f;
        }
        return true;
    }
};

__device__ __forceinline__ void write_nan_row(const AttnArgs& a, long long row, const HeadChunk& hc) {
    const long long qRow = (long long) a.numHeads * a.headDim;
    for (int i = threadIdx.x; i < hc.hc * a.headDim; i += blockDim.x) {
        a.out[row * qRow + (long long) hc.h0 * a.headDim + i] = __int_as_float(0x7fc00000);
    }
}

template <int MAXT, int GMAX>
__device__ void decode(const AttnArgs& a) {
    __shared__ float sm_m[DECODE_WARPS][GMAX];
    __shared__ float sm_l[DECODE_WARPS][GMAX];
    __shared__ float sm_acc[DECODE_WARPS][GMAX][MAXT * 32];

    const long long row = blockIdx.x;
    const HeadChunk hc = head_chunk<GMAX>(a, blockIdx.y);
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int seq = a.tokenSeq[row];
    const int pos = a.tokenPos[row];
    if (!row_ok(a, row, seq, pos, threadIdx.x == 0)) {
        write_nan_row(a, row, hc);  // uniform: every thread of the block returns here
        return;
    }

    WarpState<MAXT, GMAX> st;
    st.init(a, row, hc, lane);
    bool bad = false;
    for (int p = warp; p <= pos; p += DECODE_WARPS) {
        float k[MAXT], v[MAXT];
        if (!st.load_global(a, seq, p, hc.kvh, row, lane, k, v)) {
            bad = true;
            break;
        }
        st.step(k, v, hc.hc, a.scale);
    }
    if (__syncthreads_or(bad)) {
        write_nan_row(a, row, hc);
        return;
    }

#pragma unroll
    for (int g = 0; g < GMAX; g++) {
        if (lane == 0) {
            sm_m[warp][g] = st.m[g];
            sm_l[warp][g] = st.l[g];
        }
#pragma unroll
        for (int t = 0; t < MAXT; t++) {
            sm_acc[warp][g][lane + 32 * t] = st.acc[g][t];
        }
    }
    __syncthreads();

    // Merge the warps' partial softmaxes: rescale each to the common max. A warp that saw no
    // key has m = -inf and l = 0 and drops out (warp 0 always sees key 0).
    const long long qRow = (long long) a.numHeads * a.headDim;
    for (int i = threadIdx.x; i < hc.hc * a.headDim; i += blockDim.x) {
        const int g = i / a.headDim;
        const int d = i - g * a.headDim;
        float mx = -INFINITY;
#pragma unroll
        for (int w = 0; w < DECODE_WARPS; w++) {
            mx = fmaxf(mx, sm_m[w][g]);
        }
        float lsum = 0.0f;
        float acc = 0.0f;
#pragma unroll
        for (int w = 0; w < DECODE_WARPS; w++) {
            const float f = expf(sm_m[w][g] - mx);
            lsum += sm_l[w][g] * f;
            acc += sm_acc[w][g][d] * f;
        }
        a.out[row * qRow + (long long) (hc.h0 + g) * a.headDim + d] = acc / lsum;
    }
}

template <int GMAX>
__device__ void prefill(const AttnArgs& a) {
    constexpr int MAXT = 4;  // headDim <= 128
    __shared__ float sk[PREFILL_KT][MAXT * 32];
    __shared__ float sv[PREFILL_KT][MAXT * 32];
    __shared__ int s_seq[PREFILL_ROWS];
    __shared__ int s_pos[PREFILL_ROWS];
    __shared__ int s_ok[PREFILL_ROWS];

    const HeadChunk hc = head_chunk<GMAX>(a, blockIdx.y);
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const long long row = (long long) blockIdx.x * PREFILL_ROWS + warp;
    const bool active = row < a.n;

    int seq = -1, pos = -1;
    bool ok = false;
    if (active) {
        seq = a.tokenSeq[row];
        pos = a.tokenPos[row];
        ok = row_ok(a, row, seq, pos, lane == 0);
    }
    if (lane == 0) {
        s_seq[warp] = seq;
        s_pos[warp] = pos;
        s_ok[warp] = ok ? 1 : 0;
    }
    __syncthreads();
    // The tile's leading sequence is that of its first valid row; its keys go through shared
    // memory up to the largest position any row of that sequence needs.
    int lead = -1, leadMax = -1;
    for (int w = 0; w < PREFILL_ROWS; w++) {
        if (s_ok[w]) {
            if (lead < 0) {
                lead = s_seq[w];
            }
            if (s_seq[w] == lead) {
                leadMax = max(leadMax, s_pos[w]);
            }
        }
    }
    const bool shared = ok && seq == lead;

    WarpState<MAXT, GMAX> st;
    if (ok) {
        st.init(a, row, hc, lane);
    }
    bool bad = false;
    for (int c0 = 0; c0 <= leadMax; c0 += PREFILL_KT) {
        const int cn = min(PREFILL_KT, leadMax + 1 - c0);
        // Stage keys c0 .. c0+cn-1 of the leading sequence: warp w loads keys w, w+ROWS, ...
        for (int j = warp; j < cn; j += PREFILL_ROWS) {
            const long long off = kv_offset(a, lead, c0 + j, hc.kvh, -1 - (long long) blockIdx.x);
            for (int d = lane; d < MAXT * 32; d += 32) {
                const bool in = off >= 0 && d < a.headDim;
                sk[j][d] = in ? a.kc[off + d] : 0.0f;
                sv[j][d] = in ? a.vc[off + d] : 0.0f;
            }
            bad |= off < 0;
        }
        __syncthreads();
        if (shared) {
            const int last = min(cn - 1, pos - c0);
            for (int j = 0; j <= last; j++) {
                float k[MAXT], v[MAXT];
#pragma unroll
                for (int t = 0; t < MAXT; t++) {
                    k[t] = sk[j][lane + 32 * t];
                    v[t] = sv[j][lane + 32 * t];
                }
                st.step(k, v, hc.hc, a.scale);
            }
        }
        __syncthreads();
    }
    if (ok && !shared) {
        // A row of another sequence in this tile: straight from the cache.
        for (int p = 0; p <= pos; p++) {
            float k[MAXT], v[MAXT];
            if (!st.load_global(a, seq, p, hc.kvh, row, lane, k, v)) {
                bad = true;
                break;
            }
            st.step(k, v, hc.hc, a.scale);
        }
    }
    if (!active) {
        return;  // no barrier follows
    }
    const long long qRow = (long long) a.numHeads * a.headDim;
    float* o = a.out + row * qRow + (long long) hc.h0 * a.headDim;
    if (!ok || bad) {
        for (int i = lane; i < hc.hc * a.headDim; i += 32) {
            o[i] = __int_as_float(0x7fc00000);
        }
        return;
    }
#pragma unroll
    for (int g = 0; g < GMAX; g++) {
#pragma unroll
        for (int t = 0; t < MAXT; t++) {
            const int d = lane + 32 * t;
            if (g < hc.hc && d < a.headDim) {
                o[(long long) g * a.headDim + d] = st.acc[g][t] / st.l[g];
            }
        }
    }
}

}  // namespace

// headDim <= 128, up to 8 query heads per KV head per block. Grid: (n, numKvHeads * chunks).
extern "C" __global__ void __launch_bounds__(128) shuttle_attention_decode_d128(AttnArgs a) {
    decode<4, 8>(a);
}

// headDim <= 256, up to 4 query heads per KV head per block.
extern "C" __global__ void __launch_bounds__(128) shuttle_attention_decode_d256(AttnArgs a) {
    decode<8, 4>(a);
}

// headDim <= 128. Grid: (ceil(n / 8), numKvHeads * chunks), 256 threads.
extern "C" __global__ void __launch_bounds__(256) shuttle_attention_prefill_d128(AttnArgs a) {
    prefill<8>(a);
}
