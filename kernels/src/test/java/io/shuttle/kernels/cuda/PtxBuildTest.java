package io.shuttle.kernels.cuda;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The PTX the cuda-ptx profile builds: every kernel the backend launches is an entry of its
 * module, the modules target sm_90, and the by-value argument structs the Java side encodes have
 * the sizes nvcc gave them. Runs wherever the profile ran (nvcc present, no GPU needed); skips
 * otherwise, saying so.
 */
class PtxBuildTest {

    private static void assumeBuilt() {
        assumeTrue("built".equals(System.getProperty("shuttle.cuda.ptx")),
                "the cuda-ptx profile was not active (no nvcc at /usr/local/bin/nvcc or /usr/local/cuda/bin/nvcc),"
                        + " so no PTX was built");
    }

    private static String ptx(String module) throws IOException {
        String resource = Kernel.PTX_RESOURCE_DIR + module + ".ptx";
        try (InputStream in = PtxBuildTest.class.getResourceAsStream(resource)) {
            assertNotNull(in, resource + " is missing although the cuda-ptx profile was active");
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
    }

    @Test
    void everyKernelIsAnEntryOfItsModule() throws IOException {
        assumeBuilt();
        for (Kernel k : Kernel.values()) {
            String text = ptx(k.module());
            assertTrue(text.contains(".visible .entry " + k.entry() + "("),
                    k.entry() + " is not an entry of " + k.ptxResource());
            assertTrue(text.contains(".target sm_90"), k.ptxResource() + " does not target sm_90");
        }
    }

    @Test
    void tensorCoreGemmUsesMmaInstructions() throws IOException {
        assumeBuilt();
        String text = ptx("gemm");
        assertTrue(text.contains("wmma.mma.sync.aligned") && text.contains(".bf16"),
                "gemm.ptx has no bf16 WMMA instructions");
    }

    @Test
    void structParametersMatchTheJavaEncoding() throws IOException {
        assumeBuilt();
        assertEquals(GroupedGemm.STRUCT_BYTES, paramBytes(ptx("gemm"), Kernel.GEMM_BF16.entry()),
                "GroupedGemm struct size");
        assertEquals(GroupedGemm.STRUCT_BYTES, new GroupedGemm(64).encode(0, 0, 0, 0, 0).length,
                "GroupedGemm encoding size");
        byte[] attn = CudaAttention.encode(0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1f, 0);
        assertEquals(paramBytes(ptx("attention"), Kernel.ATTENTION_DECODE_D128.entry()), attn.length,
                "AttnArgs struct size");
    }

    /** Size of the single by-value parameter: ".param .align 8 .b8 <entry>_param_0[112]". */
    private static int paramBytes(String ptx, String entry) {
        Matcher m = Pattern.compile(Pattern.quote(entry) + "_param_0\\[(\\d+)]").matcher(ptx);
        assertTrue(m.find(), entry + " has no by-value struct parameter in the PTX");
        return Integer.parseInt(m.group(1));
    }
}
