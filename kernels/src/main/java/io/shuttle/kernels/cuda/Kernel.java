package io.shuttle.kernels.cuda;

/**
 * Every kernel entry point the CUDA backend launches, with the PTX module (file
 * {@code io/shuttle/kernels/cuda/ptx/<module>.ptx}, built from {@code src/main/cuda/<module>.cu})
 * that holds it. PtxBuildTest checks that each entry exists in the built PTX.
 */
public enum Kernel {
    ADD("elementwise", "shuttle_add"),
    SILU_MUL("elementwise", "shuttle_silu_mul"),
    EMBEDDING_F32("elementwise", "shuttle_embedding_f32"),
    EMBEDDING_BF16("elementwise", "shuttle_embedding_bf16"),
    EMBEDDING_F16("elementwise", "shuttle_embedding_f16"),
    GATHER_ROWS("elementwise", "shuttle_gather_rows"),
    SCATTER_ADD_ROWS("elementwise", "shuttle_scatter_add_rows"),
    WRITE_KV("elementwise", "shuttle_write_kv"),
    ROWS_TO_BF16("elementwise", "shuttle_rows_to_bf16"),
    RMSNORM_F32("norm_rope", "shuttle_rmsnorm_f32"),
    RMSNORM_BF16("norm_rope", "shuttle_rmsnorm_bf16"),
    RMSNORM_F16("norm_rope", "shuttle_rmsnorm_f16"),
    ADD_RMSNORM_F32("norm_rope", "shuttle_add_rmsnorm_f32"),
    ADD_RMSNORM_BF16("norm_rope", "shuttle_add_rmsnorm_bf16"),
    ADD_RMSNORM_F16("norm_rope", "shuttle_add_rmsnorm_f16"),
    ROPE("norm_rope", "shuttle_rope"),
    ROUTER_TOPK("router", "shuttle_router_topk"),
    ATTENTION_DECODE_D128("attention", "shuttle_attention_decode_d128"),
    ATTENTION_DECODE_D256("attention", "shuttle_attention_decode_d256"),
    ATTENTION_PREFILL_D128("attention", "shuttle_attention_prefill_d128"),
    GEMM_BF16("gemm", "shuttle_gemm_bf16"),
    GEMM_BF16_SWIGLU("gemm", "shuttle_gemm_bf16_swiglu"),
    GEMM_BF16_SCATTER("gemm", "shuttle_gemm_bf16_scatter"),
    GEMV_F32("matmul", "shuttle_gemv_f32"),
    GEMV_BF16("matmul", "shuttle_gemv_bf16"),
    GEMV_F16("matmul", "shuttle_gemv_f16"),
    MATMUL_SIMT_F32("matmul", "shuttle_matmul_simt_f32"),
    MATMUL_SIMT_BF16("matmul", "shuttle_matmul_simt_bf16"),
    MATMUL_SIMT_F16("matmul", "shuttle_matmul_simt_f16");

    /** Classpath folder of the PTX files. */
    public static final String PTX_RESOURCE_DIR = "/io/shuttle/kernels/cuda/ptx/";

    private final String module;
    private final String entry;

    Kernel(String module, String entry) {
        this.module = module;
        this.entry = entry;
    }

    public String module() {
        return module;
    }

    public String entry() {
        return entry;
    }

    /** Classpath resource of this kernel's PTX module. */
    public String ptxResource() {
        return PTX_RESOURCE_DIR + module + ".ptx";
    }
}
