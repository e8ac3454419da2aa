package io.shuttle.tokenizer;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Text to token ids and back, as the Hugging Face {@code tokenizers} library does it for a model
 * directory's {@code tokenizer.json}. Implementations hold native resources: close them.
 * Instances are safe to use from several threads.
 */
public interface Tokenizer extends AutoCloseable {

    /**
     * Loads {@code modelDir/tokenizer.json} and, when present, {@code modelDir/tokenizer_config.json}.
     *
     * @throws TokenizerException naming the file when one is missing or malformed, or when the
     *                            native library cannot be loaded
     */
    static Tokenizer load(Path modelDir) {
        return HfTokenizer.load(modelDir);
    }

    /**
     * Token ids of {@code text}. With {@code addSpecialTokens} the tokenizer's post-processor runs
     * (for Mixtral and the presets: BOS first). Special tokens written in the text, such as
     * {@code "<s>"}, are always recognised as such.
     */
    int[] encode(String text, boolean addSpecialTokens);

    /**
     * The text of {@code ids}; with {@code skipSpecialTokens} special tokens are left out.
     *
     * @throws IllegalArgumentException if an id is outside [0, vocabSize())
     */
    String decode(int[] ids, boolean skipSpecialTokens);

    /** One more than the largest id the tokenizer can produce (model vocabulary plus added tokens). */
    int vocabSize();

    /** Id of the beginning-of-sequence token, or -1 if the tokenizer has none. */
    int bosTokenId();

    /** Id of the end-of-sequence token, or -1 if the tokenizer has none. */
    int eosTokenId();

    /** The Jinja chat template from tokenizer_config.json, if any. */
    Optional<String> chatTemplate();

    @Override
    void close();
}
