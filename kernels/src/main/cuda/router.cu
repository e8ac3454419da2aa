// Mixtral routing: softmax over the experts in f32, top-k by probability (ties to the lower expert
// id), the k probabilities renormalised to sum to one. One thread per token row: the expert
// count is small (8..256) and the work per row is O(k * experts), far below the cost of the
// router matmul that produced the logits.
#include "shuttle_common.cuh"

using namespace shuttle;

extern "C" __global__ void shuttle_router_topk(const float* logits, int* ids, float* weights, long long n,
                                               int experts, int k, int* err) {
    const long long row = grid_stride_start();
    if (row >= n) {
        return;
    }
    const float* l = logits + row * experts;
    float mx = -INFINITY;
    for (int e = 0; e < experts; e++) {
        mx = fmaxf(mx, l[e]);
    }
    float sum = 0.0f;
    for (int e = 0; e < experts; e++) {
        sum += expf(l[e] - mx);
    }
    // Selection without a "taken" mask: the j-th pick is the best expert ranked strictly after
    // the (j-1)-th pick in the order (probability descending, id ascending). Probabilities are
    // recomputed with the same operations each time, so the comparisons are consistent.
    float prevP = 0.0f;
    int prevId = -1;
    float topSum = 0.0f;
    int* outIds = ids + row * k;
    float* outW = weights + row * k;
    for (int j = 0; j < k; j++) {
        int best = -1;
        float bestP = 0.0f;
        for (int e = 0; e < experts; e++) {
            const float p = expf(l[e] - mx) / sum;
            const bool after = prevId < 0 || p < prevP || (p == prevP && e > prevId);
            if (after && (best < 0 || p > bestP)) {
                best = e;
                bestP = p;
            }
        }
        if (best < 0) {
            // Only NaN logits leave no candidate.
            report(err, ERR_ROUTER_NAN, row, j, experts);
            best = 0;
            bestP = __int_as_float(0x7fc00000);
        }
        outIds[j] = best;
        outW[j] = bestP;
        topSum += bestP;
        prevP = bestP;
        prevId = best;
    }
    for (int j = 0; j < k; j++) {
        outW[j] = outW[j] / topSum;
    }
}
