package io.shuttle.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenizerFilesTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;

    static Path preset;
    static JsonNode tokenizerJson;
    static JsonNode configJson;

    @BeforeAll
    static void writePreset() throws IOException {
        preset = dir.resolve("preset");
        TokenizerFiles.writePreset(preset, 512);
        tokenizerJson = JSON.readTree(preset.resolve("tokenizer.json").toFile());
        configJson = JSON.readTree(preset.resolve("tokenizer_config.json").toFile());
    }

    @Test
    void vocabularyHasSpecialsThenBytesThenMergesAndExactlyVocabSizeIds() {
        JsonNode vocab = tokenizerJson.path("model").path("vocab");
        assertEquals(512, vocab.size());
        assertEquals(0, vocab.get("<unk>").intValue());
        assertEquals(1, vocab.get("<s>").intValue());
        assertEquals(2, vocab.get("</s>").intValue());
        for (int b = 0; b < 256; b++) {
            assertEquals(3 + b, vocab.get(ByteLevel.symbol(b)).intValue(), "byte " + b);
        }
        Set<Integer> ids = new HashSet<>();
        vocab.forEach(id -> ids.add(id.intValue()));
        assertEquals(512, ids.size(), "ids must be distinct");
        assertTrue(ids.stream().allMatch(id -> id >= 0 && id < 512));
        assertEquals("\u0120", ByteLevel.symbol(' '), "GPT-2 maps the space byte to U+0120 (Ġ)");
        assertTrue(vocab.has("\u0120the"), "a merge like \"Ġthe\" must be learned from the corpus");

        for (JsonNode merge : tokenizerJson.path("model").path("merges")) {
            String[] parts = merge.textValue().split(" ");
            assertEquals(2, parts.length, merge.textValue());
            assertTrue(vocab.has(parts[0]) && vocab.has(parts[1]) && vocab.has(parts[0] + parts[1]), merge.textValue());
        }
        JsonNode added = tokenizerJson.path("added_tokens");
        assertEquals(3, added.size());
        for (int id = 0; id < 3; id++) {
            assertEquals(id, added.get(id).path("id").intValue());
            assertTrue(added.get(id).path("special").booleanValue());
        }
    }

    @Test
    void pipelineIsByteLevelBpeWithBosTemplate() {
        JsonNode pre = tokenizerJson.path("pre_tokenizer");
        assertEquals("ByteLevel", pre.path("type").textValue());
        assertFalse(pre.path("add_prefix_space").booleanValue());
        assertTrue(pre.path("use_regex").booleanValue());
        assertEquals("ByteLevel", tokenizerJson.path("decoder").path("type").textValue());
        assertEquals("TemplateProcessing", tokenizerJson.path("post_processor").path("type").textValue());
        assertEquals("<s>", tokenizerJson.path("post_processor").path("single").get(0).path("SpecialToken").path("id").textValue());
        JsonNode model = tokenizerJson.path("model");
        assertEquals("BPE", model.path("type").textValue());
        assertFalse(model.path("byte_fallback").booleanValue());
        assertFalse(model.path("ignore_merges").booleanValue());
    }

    @Test
    void configNamesMixtralSpecialsAndCarriesTheChatTemplate() {
        assertEquals("<s>", configJson.path("bos_token").textValue());
        assertEquals("</s>", configJson.path("eos_token").textValue());
        assertEquals("<unk>", configJson.path("unk_token").textValue());
        assertTrue(configJson.path("add_bos_token").booleanValue());
        assertEquals(TokenizerFiles.DEFAULT_MODEL_MAX_LENGTH, configJson.path("model_max_length").intValue());
        assertEquals("PreTrainedTokenizerFast", configJson.path("tokenizer_class").textValue());
        assertEquals(TokenizerFiles.presetChatTemplate(), configJson.path("chat_template").textValue());
        assertTrue(configJson.path("chat_template").textValue().contains("[INST]"));
    }

    @Test
    void sameVocabSizeGivesByteIdenticalFiles() throws IOException {
        Path again = dir.resolve("again");
        TokenizerFiles.writePreset(again, 512);
        assertArrayEquals(Files.readAllBytes(preset.resolve("tokenizer.json")), Files.readAllBytes(again.resolve("tokenizer.json")));
        assertArrayEquals(Files.readAllBytes(preset.resolve("tokenizer_config.json")),
                Files.readAllBytes(again.resolve("tokenizer_config.json")));
    }

    @Test
    void loadsAndRoundTripsEveryTestString() {
        try (Tokenizer tokenizer = Tokenizer.load(preset)) {
            assertEquals(512, tokenizer.vocabSize());
            assertEquals(1, tokenizer.bosTokenId());
            assertEquals(2, tokenizer.eosTokenId());
            assertTrue(tokenizer.chatTemplate().isPresent());
            for (String s : ParityStrings.load()) {
                int[] ids = tokenizer.encode(s, false);
                assertEquals(s, tokenizer.decode(ids, false), "byte-level BPE must be lossless for " + ParityStrings.escape(s));
                int[] withBos = tokenizer.encode(s, true);
                assertEquals(1, withBos[0]);
                assertEquals(ids.length + 1, withBos.length);
            }
        }
    }

    @Test
    void smallestAndLargePresetSizesWork() throws IOException {
        TokenizerFiles.writePreset(dir.resolve("min"), TokenizerFiles.MIN_VOCAB_SIZE);
        TokenizerFiles.writePreset(dir.resolve("small"), 8192, 4096);
        try (Tokenizer min = Tokenizer.load(dir.resolve("min")); Tokenizer small = Tokenizer.load(dir.resolve("small"))) {
            assertEquals(259, min.vocabSize());
            assertEquals("hi there", min.decode(min.encode("hi there", false), false));
            assertEquals(8, min.encode("hi there", false).length, "no merges: one token per byte");
            assertEquals(8192, small.vocabSize());
            assertTrue(small.encode("the government of the people", false).length <= 5);
        }
        assertEquals(4096, TokenizerConfig.read(dir.resolve("small")).modelMaxLength().orElseThrow());
    }

    @Test
    void rejectsVocabSizesOutsideWhatThePresetCanHold() {
        IllegalArgumentException small = assertThrows(IllegalArgumentException.class,
                () -> TokenizerFiles.writePreset(dir.resolve("x"), 258));
        assertTrue(small.getMessage().contains("too small"), small.getMessage());
        IllegalArgumentException large = assertThrows(IllegalArgumentException.class,
                () -> TokenizerFiles.writePreset(dir.resolve("y"), 1_000_000));
        assertTrue(large.getMessage().contains("too large"), large.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TokenizerFiles.writePreset(dir.resolve("z"), 512, 0));
        assertFalse(Files.exists(dir.resolve("x")), "nothing is written for a rejected size");
    }
}
