package io.shuttle.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes a small tokenizer with the exact structure of the real Mixtral (Llama-2 family)
 * {@code tokenizer.json}: SentencePiece-style BPE over "▁"-marked text with byte fallback.
 *
 * <ul>
 *   <li>normalizer Sequence[Prepend("▁"), Replace(" " → "▁")], pre_tokenizer null;</li>
 *   <li>post_processor TemplateProcessing "&lt;s&gt; $A" / "&lt;s&gt; $A &lt;s&gt; $B";</li>
 *   <li>decoder Sequence[Replace("▁" → " "), ByteFallback, Fuse, Strip(" ", 1, 0)];</li>
 *   <li>model BPE, unk_token "&lt;unk&gt;", fuse_unk true, byte_fallback true, merges as "a b" strings,
 *       no ignore_merges key (as files written before tokenizers 0.19);</li>
 *   <li>vocab: &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt;, &lt;0x00&gt;..&lt;0xFF&gt;, merged pieces in rank order, then the
 *       single characters (as SentencePiece orders them). Whitespace other than the space and
 *       characters not seen in training are left out, so they go through byte fallback, as
 *       newlines, emoji and rare CJK do in Mixtral.</li>
 * </ul>
 * The pieces are learned by {@link BpeTrainer} from the preset corpus plus a multilingual test text.
 */
final class MixtralStyleFixture {

    static final String METASPACE = "\u2581";
    /** SentencePiece pieces: "▁" + letters, single digits (Llama splits digits), other symbol runs. */
    private static final Pattern PIECE = Pattern.compile(
            METASPACE + "?[\\p{L}\\p{M}]+|" + METASPACE + "?\\p{N}|" + METASPACE + "?[^\\p{L}\\p{M}\\p{N}\\s" + METASPACE + "]+|"
                    + METASPACE + "+");

    private static final ObjectMapper JSON = new ObjectMapper();

    private MixtralStyleFixture() {
    }

    /**
     * Writes tokenizer.json and tokenizer_config.json into {@code dir}.
     *
     * @param newPieces          how many merged pieces to learn
     * @param addedTokensNormalized the added tokens' "normalized" flag (false in Mixtral, true in Llama 2)
     */
    static void write(Path dir, int newPieces, boolean addedTokensNormalized) throws IOException {
        String text = resource("/tokenizer/preset-corpus.txt") + "\n" + resource("/tokenizer/spm-extra-corpus.txt");
        Map<List<String>, Long> words = new HashMap<>();
        Map<String, Long> charCounts = new HashMap<>();
        for (String line : text.split("\n")) {
            String normalized = METASPACE + line.replace(" ", METASPACE);
            Matcher m = PIECE.matcher(normalized);
            while (m.find()) {
                List<String> symbols = m.group().codePoints().mapToObj(Character::toString).toList();
                words.merge(symbols, 1L, Long::sum);
                symbols.forEach(c -> charCounts.merge(c, 1L, Long::sum));
            }
        }
        Set<String> alphabet = new LinkedHashSet<>();
        charCounts.entrySet().stream()
                .sorted(Map.Entry.<String, Long>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()))
                .forEach(e -> alphabet.add(e.getKey()));
        List<BpeTrainer.Merge> merges = BpeTrainer.train(words, alphabet, newPieces);

        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (String special : List.of("<unk>", "<s>", "</s>")) {
            vocab.put(special, vocab.size());
        }
        for (int b = 0; b < 256; b++) {
            vocab.put(String.format("<0x%02X>", b), vocab.size());
        }
        merges.forEach(m -> vocab.putIfAbsent(m.result(), vocab.size()));
        alphabet.forEach(c -> vocab.putIfAbsent(c, vocab.size()));

        Files.createDirectories(dir);
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("tokenizer.json").toFile(),
                tokenizerJson(vocab, merges, addedTokensNormalized));
        ObjectNode config = JSON.createObjectNode();
        config.put("add_bos_token", true);
        config.put("add_eos_token", false);
        config.put("bos_token", "<s>");
        config.put("eos_token", "</s>");
        config.put("unk_token", "<unk>");
        config.put("legacy", true);
        config.put("model_max_length", 1000000000000000019884624838656.0);
        config.putNull("pad_token");
        config.put("tokenizer_class", "LlamaTokenizer");
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("tokenizer_config.json").toFile(), config);
    }

    private static ObjectNode tokenizerJson(Map<String, Integer> vocab, List<BpeTrainer.Merge> merges, boolean normalized) {
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (String special : List.of("<unk>", "<s>", "</s>")) {
            ObjectNode t = added.addObject();
            t.put("id", vocab.get(special));
            t.put("content", special);
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", normalized);
            t.put("special", true);
        }
        ObjectNode normalizer = root.putObject("normalizer");
        normalizer.put("type", "Sequence");
        ArrayNode normalizers = normalizer.putArray("normalizers");
        normalizers.addObject().put("type", "Prepend").put("prepend", METASPACE);
        replace(normalizers.addObject(), " ", METASPACE);
        root.putNull("pre_tokenizer");
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode bos = post.putObject("special_tokens").putObject("<s>");
        bos.put("id", "<s>");
        bos.putArray("ids").add(vocab.get("<s>"));
        bos.putArray("tokens").add("<s>");
        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "Sequence");
        ArrayNode decoders = decoder.putArray("decoders");
        replace(decoders.addObject(), METASPACE, " ");
        decoders.addObject().put("type", "ByteFallback");
        decoders.addObject().put("type", "Fuse");
        decoders.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", "<unk>");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        ObjectNode v = model.putObject("vocab");
        vocab.forEach(v::put);
        ArrayNode m = model.putArray("merges");
        merges.forEach(merge -> m.add(merge.left() + " " + merge.right()));
        return root;
    }

    private static void replace(ObjectNode node, String pattern, String content) {
        node.put("type", "Replace");
        node.putObject("pattern").put("String", pattern);
        node.put("content", content);
    }

    private static String resource(String name) {
        try (InputStream in = MixtralStyleFixture.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + name);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
