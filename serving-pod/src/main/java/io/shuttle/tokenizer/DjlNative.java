package io.shuttle.tokenizer;

import ai.djl.huggingface.tokenizers.jni.LibUtils;

/**
 * Loads DJL's native Hugging Face tokenizers library (the Rust {@code tokenizers} crate, shipped
 * inside the DJL jar). On first use DJL copies the library into its cache folder: {@code
 * $ENGINE_CACHE_DIR}, else {@code $DJL_CACHE_DIR}, else {@code ~/.djl.ai} when the home folder is
 * writable, else {@code <java.io.tmpdir>/.djl.ai}. A pod with a read-only root filesystem must
 * point {@code DJL_CACHE_DIR} (environment variable or system property) at a writable volume.
 */
final class DjlNative {

    private DjlNative() {
    }

    /**
     * Makes sure the native library is loaded, or fails with a message saying where DJL looked.
     *
     * <p>Unless the operator chose otherwise, this switches DJL to offline mode (system property
     * {@code ai.djl.offline}). Without it DJL phones home to the EC2 metadata service and, on a
     * machine where it detects CUDA, tries to download a CUDA build of the tokenizer library from
     * the internet instead of using the CPU build in its jar; tokenizing needs no GPU, and serving
     * pods must not depend on outside network access. Set {@code DJL_OFFLINE=false} to restore
     * DJL's defaults.
     */
    static synchronized void ensureLoaded() {
        if (System.getenv("DJL_OFFLINE") == null && System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        try {
            LibUtils.checkStatus();
        } catch (RuntimeException | LinkageError e) {
            throw new TokenizerException("cannot load the native Hugging Face tokenizers library from DJL: " + e
                    + ". DJL extracts it into $DJL_CACHE_DIR (default ~/.djl.ai, or <tmpdir>/.djl.ai when the home"
                    + " folder is not writable); set DJL_CACHE_DIR to a writable folder", e);
        }
    }
}
