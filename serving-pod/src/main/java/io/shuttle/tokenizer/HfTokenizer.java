package io.shuttle.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * {@link Tokenizer} on DJL's binding of the Hugging Face Rust {@code tokenizers} library, so ids
 * match what the reference implementation (and therefore the model's training) produced.
 */
public final class HfTokenizer implements Tokenizer {

    /**
     * DJL pads to the longest sequence and truncates by default; a serving tokenizer must do
     * neither (the scheduler decides what fits). Turning both off also silences DJL's warning about
     * an unset maxLength.
     */
    private static final Map<String, String> DJL_OPTIONS = Map.of("padding", "false", "truncation", "false");

    private final HuggingFaceTokenizer djl;
    private final Path modelDir;
    private final int vocabSize;
    private final int bosTokenId;
    private final int eosTokenId;
    private final Optional<String> chatTemplate;

    private HfTokenizer(HuggingFaceTokenizer djl, Path modelDir, TokenizerJson json, TokenizerConfig config) {
        this.djl = djl;
        this.modelDir = modelDir;
        this.vocabSize = json.vocabSize();
        this.bosTokenId = json.specialId(config.bosToken(), "bos_token", "<s>");
        this.eosTokenId = json.specialId(config.eosToken(), "eos_token", "</s>");
        this.chatTemplate = config.chatTemplate();
    }

    /** See {@link Tokenizer#load(Path)}. */
    public static HfTokenizer load(Path modelDir) {
        Objects.requireNonNull(modelDir, "modelDir");
        if (!Files.isDirectory(modelDir)) {
            throw new TokenizerException("model directory " + modelDir.toAbsolutePath() + " does not exist or is not a directory");
        }
        TokenizerJson json = TokenizerJson.read(modelDir);
        TokenizerConfig config = TokenizerConfig.read(modelDir);
        DjlNative.ensureLoaded();
        HuggingFaceTokenizer djl;
        try {
            djl = HuggingFaceTokenizer.newInstance(json.file(), DJL_OPTIONS);
        } catch (IOException e) {
            throw new TokenizerException("cannot read " + json.file() + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new TokenizerException(json.file() + " was rejected by the Hugging Face tokenizers library: "
                    + e.getMessage(), e);
        }
        try {
            return new HfTokenizer(djl, modelDir, json, config);
        } catch (RuntimeException e) {
            djl.close();
            throw e;
        }
    }

    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        Objects.requireNonNull(text, "text");
        long[] ids = djl.encode(text, addSpecialTokens, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        Objects.requireNonNull(ids, "ids");
        long[] wide = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocabSize) {
                throw new IllegalArgumentException("token id " + ids[i] + " at position " + i + " is outside the vocabulary [0, "
                        + vocabSize + ") of " + modelDir);
            }
            wide[i] = ids[i];
        }
        return djl.decode(wide, skipSpecialTokens);
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public int bosTokenId() {
        return bosTokenId;
    }

    @Override
    public int eosTokenId() {
        return eosTokenId;
    }

    @Override
    public Optional<String> chatTemplate() {
        return chatTemplate;
    }

    @Override
    public void close() {
        djl.close();
    }

    @Override
    public String toString() {
        return "HfTokenizer[" + modelDir + ", vocabSize=" + vocabSize + "]";
    }
}
