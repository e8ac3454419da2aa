package io.shuttle.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes the tokenizer files of a generated preset model: a byte-level BPE {@code tokenizer.json}
 * in the Hugging Face format (loadable by the Rust {@code tokenizers} library and its bindings)
 * and a {@code tokenizer_config.json} with Mixtral's special tokens and an {@code [INST]} chat
 * template.
 *
 * <p>The merges are learned from an embedded English corpus, so the same vocabSize always
 * produces byte-identical files.
 */
public final class TokenizerFiles {

    /** Ids 0..2 are the special tokens; the 256 byte symbols follow. */
    public static final int MIN_VOCAB_SIZE = PresetVocabulary.SPECIALS.size() + 256;

    /** Written when the caller does not give one: Mixtral's context length. */
    public static final int DEFAULT_MODEL_MAX_LENGTH = 32768;

    /** English prose (public-domain texts and text written for Shuttle); its frequencies decide the first merges. */
    static final String CORPUS_RESOURCE = "/tokenizer/preset-corpus.txt";
    /**
     * Words from Webster's Second International (1934, public domain), each counted once: they add
     * the long tail of merges that lets a preset reach vocabularies of 8192 and more.
     */
    static final String WORDS_RESOURCE = "/tokenizer/preset-words.txt";
    static final String CHAT_TEMPLATE_RESOURCE = "/tokenizer/preset-chat-template.jinja";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private TokenizerFiles() {
    }

    /** Writes tokenizer.json and tokenizer_config.json for a generated preset: ids 0 &lt;unk&gt;, 1 &lt;s&gt;, 2 &lt;/s&gt;, then the 256 byte tokens, then merges up to vocabSize. */
    public static void writePreset(Path dir, int vocabSize) throws IOException {
        writePreset(dir, vocabSize, DEFAULT_MODEL_MAX_LENGTH);
    }

    /**
     * As {@link #writePreset(Path, int)}, with the {@code model_max_length} to record (the model's
     * {@code max_position_embeddings}).
     *
     * @throws IllegalArgumentException if vocabSize is below {@link #MIN_VOCAB_SIZE} or above what
     *                                  the embedded corpus can produce, or modelMaxLength is not positive
     */
    public static void writePreset(Path dir, int vocabSize, int modelMaxLength) throws IOException {
        if (modelMaxLength <= 0) {
            throw new IllegalArgumentException("modelMaxLength must be positive, got " + modelMaxLength);
        }
        PresetVocabulary vocabulary = PresetVocabulary.train(
                readResource(CORPUS_RESOURCE), readResource(WORDS_RESOURCE), vocabSize);
        Files.createDirectories(dir);
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), tokenizerJson(vocabulary));
        JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), tokenizerConfigJson(modelMaxLength));
    }

    /** The {@code [INST]} chat template written into presets (Jinja, Mixtral-Instruct style). */
    public static String presetChatTemplate() {
        return readResource(CHAT_TEMPLATE_RESOURCE);
    }

    private static ObjectNode tokenizerJson(PresetVocabulary vocabulary) {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int id = 0; id < PresetVocabulary.SPECIALS.size(); id++) {
            added.add(addedToken(id, PresetVocabulary.SPECIALS.get(id)));
        }
        root.putNull("normalizer");
        root.set("pre_tokenizer", byteLevel(false));
        root.set("post_processor", bosTemplate());
        root.set("decoder", byteLevel(true));
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", PresetVocabulary.UNK);
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", false);
        ObjectNode vocab = model.putObject("vocab");
        vocabulary.tokens().forEach(vocab::put);
        ArrayNode merges = model.putArray("merges");
        // The "left right" string form is read by every tokenizers version (the array form only by >= 0.20);
        // byte-level symbols never contain a space, so it is unambiguous.
        vocabulary.merges().forEach(m -> merges.add(m.left() + " " + m.right()));
        return root;
    }

    private static ObjectNode addedToken(int id, String content) {
        ObjectNode t = JSON.createObjectNode();
        t.put("id", id);
        t.put("content", content);
        t.put("single_word", false);
        t.put("lstrip", false);
        t.put("rstrip", false);
        t.put("normalized", false);
        t.put("special", true);
        return t;
    }

    /**
     * The ByteLevel component; as a decoder its flags are ignored, but HF writes them all, so do we.
     * {@code add_prefix_space} stays false so that encoding "hello" gives the same pieces as the
     * model saw in training.
     */
    private static ObjectNode byteLevel(boolean decoder) {
        ObjectNode n = JSON.createObjectNode();
        n.put("type", "ByteLevel");
        n.put("add_prefix_space", decoder);
        n.put("trim_offsets", true);
        n.put("use_regex", true);
        return n;
    }

    /** TemplateProcessing that puts BOS first, as Mixtral's tokenizer does: "&lt;s&gt; $A" and "&lt;s&gt; $A &lt;s&gt; $B". */
    private static ObjectNode bosTemplate() {
        ObjectNode p = JSON.createObjectNode();
        p.put("type", "TemplateProcessing");
        ArrayNode single = p.putArray("single");
        single.add(special(0));
        single.add(sequence("A", 0));
        ArrayNode pair = p.putArray("pair");
        pair.add(special(0));
        pair.add(sequence("A", 0));
        pair.add(special(1));
        pair.add(sequence("B", 1));
        ObjectNode bos = p.putObject("special_tokens").putObject(PresetVocabulary.BOS);
        bos.put("id", PresetVocabulary.BOS);
        bos.putArray("ids").add(PresetVocabulary.SPECIALS.indexOf(PresetVocabulary.BOS));
        bos.putArray("tokens").add(PresetVocabulary.BOS);
        return p;
    }

    private static ObjectNode special(int typeId) {
        ObjectNode n = JSON.createObjectNode();
        ObjectNode s = n.putObject("SpecialToken");
        s.put("id", PresetVocabulary.BOS);
        s.put("type_id", typeId);
        return n;
    }

    private static ObjectNode sequence(String id, int typeId) {
        ObjectNode n = JSON.createObjectNode();
        ObjectNode s = n.putObject("Sequence");
        s.put("id", id);
        s.put("type_id", typeId);
        return n;
    }

    private static ObjectNode tokenizerConfigJson(int modelMaxLength) {
        ObjectNode c = JSON.createObjectNode();
        c.put("add_bos_token", true);
        c.put("add_eos_token", false);
        ObjectNode decoder = c.putObject("added_tokens_decoder");
        for (int id = 0; id < PresetVocabulary.SPECIALS.size(); id++) {
            ObjectNode t = addedToken(id, PresetVocabulary.SPECIALS.get(id));
            t.remove("id");
            decoder.set(Integer.toString(id), t);
        }
        c.put("bos_token", PresetVocabulary.BOS);
        c.put("eos_token", PresetVocabulary.EOS);
        c.put("unk_token", PresetVocabulary.UNK);
        c.putNull("pad_token");
        c.put("clean_up_tokenization_spaces", false);
        c.put("model_max_length", modelMaxLength);
        c.put("tokenizer_class", "PreTrainedTokenizerFast");
        c.put("chat_template", presetChatTemplate());
        return c;
    }

    private static String readResource(String name) {
        try (InputStream in = TokenizerFiles.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("classpath resource " + name + " is missing from the shuttle jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read classpath resource " + name, e);
        }
    }

    /** The vocabulary of a preset: specials, the byte alphabet, then one entry per new merge result. */
    record PresetVocabulary(Map<String, Integer> tokens, List<BpeTrainer.Merge> merges) {

        static final String UNK = "<unk>";
        static final String BOS = "<s>";
        static final String EOS = "</s>";
        static final List<String> SPECIALS = List.of(UNK, BOS, EOS);

        /**
         * Each piece of prose counts this many times, each listed word once, so that running text
         * rather than the dictionary decides the early, most used merges.
         */
        static final long PROSE_WEIGHT = 4;

        static PresetVocabulary train(String prose, String words, int vocabSize) {
            int min = SPECIALS.size() + 256;
            if (vocabSize < min) {
                throw new IllegalArgumentException("vocabSize " + vocabSize + " is too small: a byte-level BPE preset needs at least "
                        + min + " ids (3 special tokens + 256 byte tokens)");
            }
            Map<String, Integer> tokens = new LinkedHashMap<>();
            SPECIALS.forEach(s -> tokens.put(s, tokens.size()));
            Set<String> alphabet = new LinkedHashSet<>();
            for (int b = 0; b < 256; b++) {
                alphabet.add(ByteLevel.symbol(b));
                tokens.put(ByteLevel.symbol(b), tokens.size());
            }
            List<BpeTrainer.Merge> merges = BpeTrainer.train(wordCounts(prose, words), alphabet, vocabSize - min);
            for (BpeTrainer.Merge m : merges) {
                tokens.putIfAbsent(m.result(), tokens.size());
            }
            if (tokens.size() < vocabSize) {
                throw new IllegalArgumentException("vocabSize " + vocabSize + " is too large: the embedded training text ("
                        + CORPUS_RESOURCE + ", " + WORDS_RESOURCE + ") yields at most " + tokens.size() + " tokens");
            }
            return new PresetVocabulary(tokens, merges);
        }

        private static Map<List<String>, Long> wordCounts(String prose, String words) {
            Map<List<String>, Long> counts = new HashMap<>();
            for (String piece : ByteLevel.split(prose)) {
                counts.merge(ByteLevel.symbols(piece), PROSE_WEIGHT, Long::sum);
            }
            for (String piece : ByteLevel.split(words)) {
                counts.merge(ByteLevel.symbols(piece), 1L, Long::sum);
            }
            return counts;
        }
    }
}
