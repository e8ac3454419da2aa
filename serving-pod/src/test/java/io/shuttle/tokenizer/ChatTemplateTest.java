package io.shuttle.tokenizer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChatTemplateTest {

    @TempDir
    static Path dir;

    static ChatTemplate preset;

    @BeforeAll
    static void fixtures() throws IOException {
        TokenizerFiles.writePreset(dir.resolve("preset"), 300);
        MixtralStyleFixture.write(dir.resolve("mixtral"), 300, false);
        preset = ChatTemplate.load(dir.resolve("preset")).orElseThrow();
    }

    private static ChatTemplate.Message msg(String role, String content) {
        return new ChatTemplate.Message(role, content);
    }

    @Test
    void rendersMixtralInstructFormat() {
        assertEquals("<s> [INST] Hi [/INST]", preset.render(List.of(msg("user", "Hi")), true));
        assertEquals("<s> [INST] Hi [/INST] Hello!</s> [INST] And now? [/INST]",
                preset.render(List.of(msg("user", "Hi"), msg("assistant", "Hello!"), msg("user", "And now?")), true));
    }

    @Test
    void systemMessageJoinsTheFirstUserTurn() {
        assertEquals("<s> [INST] Be brief.\n\nHi [/INST] Hello!</s> [INST] Bye [/INST]",
                preset.render(List.of(msg("system", "Be brief."), msg("user", "Hi"), msg("assistant", "Hello!"),
                        msg("user", "Bye")), false));
    }

    @Test
    void contentIsInsertedVerbatim() {
        String content = "{{ not a tag }} {% neither %} caf\u00e9 \u65e5\u672c \uD83D\uDE00\n\ttabbed  ";
        assertEquals("<s> [INST] " + content + " [/INST]", preset.render(List.of(msg("user", content)), true));
    }

    @Test
    void renderedPromptEncodesWithOneBos() {
        try (Tokenizer t = Tokenizer.load(dir.resolve("preset"))) {
            int[] ids = t.encode(preset.render(List.of(msg("user", "Hi")), true), false);
            assertEquals(t.bosTokenId(), ids[0]);
            assertTrue(java.util.Arrays.stream(ids).filter(id -> id == t.bosTokenId()).count() == 1);
        }
    }

    @Test
    void rejectsConversationsTheTemplateRejects() {
        IllegalArgumentException twoUsers = assertThrows(IllegalArgumentException.class,
                () -> preset.render(List.of(msg("user", "a"), msg("user", "b")), true));
        assertTrue(twoUsers.getMessage().contains("alternate"), twoUsers.getMessage());
        IllegalArgumentException tool = assertThrows(IllegalArgumentException.class,
                () -> preset.render(List.of(msg("user", "a"), msg("tool", "b")), true));
        assertTrue(tool.getMessage().contains("Only user and assistant roles"), tool.getMessage());
        assertThrows(IllegalArgumentException.class, () -> preset.render(List.of(), true));
    }

    @Test
    void modelWithoutTemplateHasNone() {
        assertTrue(ChatTemplate.load(dir.resolve("mixtral")).isEmpty());
    }
}
