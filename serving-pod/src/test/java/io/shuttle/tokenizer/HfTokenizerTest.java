package io.shuttle.tokenizer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HfTokenizerTest {

    @TempDir
    static Path dir;

    static Path mixtral;
    static Path preset;

    @BeforeAll
    static void fixtures() throws IOException {
        mixtral = dir.resolve("mixtral");
        MixtralStyleFixture.write(mixtral, 600, false);
        preset = dir.resolve("preset");
        TokenizerFiles.writePreset(preset, 300);
    }

    private static Path copyOf(Path source, String name) throws IOException {
        Path target = dir.resolve(name);
        Files.createDirectories(target);
        for (String file : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
            if (Files.exists(source.resolve(file))) {
                Files.copy(source.resolve(file), target.resolve(file));
            }
        }
        return target;
    }

    private static void assertLoadFails(Path modelDir, String... fragments) {
        TokenizerException e = assertThrows(TokenizerException.class, () -> Tokenizer.load(modelDir).close());
        for (String fragment : fragments) {
            assertTrue(e.getMessage().contains(fragment), "message should mention " + fragment + ": " + e.getMessage());
        }
    }

    @Test
    void mixtralStyleTokenizerUsesByteFallbackAndBosFromConfig() {
        try (Tokenizer t = Tokenizer.load(mixtral)) {
            assertEquals(1, t.bosTokenId());
            assertEquals(2, t.eosTokenId());
            assertTrue(t.chatTemplate().isEmpty());
            int[] ids = t.encode("\uD83D\uDE00", false); // 😀 is not in the vocabulary: ▁ then 4 byte tokens
            assertEquals(5, ids.length);
            assertEquals(3 + 0xF0, ids[1]);
            assertEquals("\uD83D\uDE00", t.decode(ids, true));
            int[] special = t.encode("<s>hello</s>", false);
            assertEquals(1, special[0], "\"<s>\" written in the text is the special token");
            assertEquals(2, special[special.length - 1]);
            assertEquals("hello", t.decode(special, true));
        }
    }

    @Test
    void withoutConfigTheConventionalSpecialTokensAreUsed() throws IOException {
        Path noConfig = copyOf(preset, "no-config");
        Files.delete(noConfig.resolve("tokenizer_config.json"));
        try (Tokenizer t = Tokenizer.load(noConfig)) {
            assertEquals(1, t.bosTokenId());
            assertEquals(2, t.eosTokenId());
            assertTrue(t.chatTemplate().isEmpty());
            assertEquals(300, t.vocabSize());
        }
    }

    @Test
    void specialTokensWrittenAsAddedTokenObjectsAreUnderstood() throws IOException {
        Path objects = copyOf(preset, "objects");
        Files.writeString(objects.resolve("tokenizer_config.json"), """
                {"bos_token": {"__type": "AddedToken", "content": "<s>", "special": true},
                 "eos_token": {"__type": "AddedToken", "content": "</s>"},
                 "chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": "{{ bos_token }}"}]}
                """);
        try (Tokenizer t = Tokenizer.load(objects)) {
            assertEquals(1, t.bosTokenId());
            assertEquals(2, t.eosTokenId());
            assertEquals("{{ bos_token }}", t.chatTemplate().orElseThrow());
        }
    }

    @Test
    void badModelDirectoriesFailWithTheFileNamed() throws IOException {
        assertLoadFails(dir.resolve("does-not-exist"), "does-not-exist", "not a directory");

        Path empty = Files.createDirectories(dir.resolve("empty"));
        assertLoadFails(empty, "tokenizer.json", empty.toAbsolutePath().toString());

        Path broken = copyOf(preset, "broken-json");
        Files.writeString(broken.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", ");
        assertLoadFails(broken, broken.resolve("tokenizer.json").toString(), "not valid JSON");

        Path notTokenizer = copyOf(preset, "not-a-tokenizer");
        Files.writeString(notTokenizer.resolve("tokenizer.json"), "{\"model\": {\"type\": \"NoSuchModel\", \"vocab\": {\"a\": 0}}}");
        assertLoadFails(notTokenizer, notTokenizer.resolve("tokenizer.json").toString(), "rejected");

        Path brokenConfig = copyOf(preset, "broken-config");
        Files.writeString(brokenConfig.resolve("tokenizer_config.json"), "[1, 2");
        assertLoadFails(brokenConfig, brokenConfig.resolve("tokenizer_config.json").toString(), "not valid JSON");

        Path unknownBos = copyOf(preset, "unknown-bos");
        Files.writeString(unknownBos.resolve("tokenizer_config.json"), "{\"bos_token\": \"<|begin_of_text|>\"}");
        assertLoadFails(unknownBos, "<|begin_of_text|>", "bos_token");
    }

    @Test
    void decodeRejectsIdsOutsideTheVocabulary() {
        try (Tokenizer t = Tokenizer.load(preset)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {5, 300}, false));
            assertTrue(e.getMessage().contains("300"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {-1}, false));
            assertEquals("", t.decode(new int[0], false));
            assertArrayEquals(new int[0], t.encode("", false));
            assertArrayEquals(new int[] {1}, t.encode("", true));
        }
    }

    @Test
    void closingTwiceIsHarmless() {
        Tokenizer t = Tokenizer.load(preset);
        t.close();
        t.close();
    }
}
