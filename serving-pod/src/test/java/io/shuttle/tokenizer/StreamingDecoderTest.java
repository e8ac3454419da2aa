package io.shuttle.tokenizer;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StreamingDecoderTest {

    @TempDir
    static Path dir;

    @BeforeAll
    static void fixtures() throws IOException {
        TokenizerFiles.writePreset(dir.resolve("preset"), 512);
        MixtralStyleFixture.write(dir.resolve("mixtral"), 600, false);
    }

    /** Streams ids one by one, checks each chunk, and returns the chunks (the flush last). */
    private static List<String> stream(StreamingDecoder decoder, int[] ids, String fullText) {
        List<String> chunks = new ArrayList<>();
        for (int id : ids) {
            chunks.add(decoder.next(id));
        }
        chunks.add(decoder.flush());
        if (fullText.indexOf('\uFFFD') < 0) {
            for (String c : chunks) {
                assertFalse(c.indexOf('\uFFFD') >= 0, "a chunk holds a replacement character: " + ParityStrings.escape(c));
            }
        }
        return chunks;
    }

    private static void assertStreamsLikeFullDecode(String model) {
        try (Tokenizer t = Tokenizer.load(dir.resolve(model))) {
            for (String s : ParityStrings.load()) {
                for (boolean skip : new boolean[] {false, true}) {
                    int[] ids = t.encode(s, true);
                    String full = t.decode(ids, skip);
                    String streamed = String.join("", stream(new StreamingDecoder(t, skip), ids, full));
                    assertEquals(full, streamed, model + " skip=" + skip + " " + ParityStrings.escape(s));
                }
            }
        }
    }

    @Test
    void presetStreamConcatenatesToTheFullText() {
        assertStreamsLikeFullDecode("preset");
    }

    @Test
    void mixtralStreamConcatenatesToTheFullText() {
        assertStreamsLikeFullDecode("mixtral");
    }

    @Test
    void holdsBackBytesUntilTheCharacterIsComplete() {
        try (Tokenizer t = Tokenizer.load(dir.resolve("mixtral"))) {
            int[] ids = t.encode("\uD83D\uDE00!", false); // ▁, 4 byte-fallback tokens, "!"
            StreamingDecoder decoder = new StreamingDecoder(t, true);
            List<String> chunks = new ArrayList<>();
            for (int id : ids) {
                chunks.add(decoder.next(id));
            }
            assertEquals(List.of("", "", "", "", "\uD83D\uDE00", "!"), chunks);
        }
    }

    @Test
    void contextKeepsTheSpaceBeforeTheFirstGeneratedWord() {
        try (Tokenizer t = Tokenizer.load(dir.resolve("mixtral"))) {
            int[] prompt = t.encode("Hello", false);
            int[] all = t.encode("Hello world", false);
            int[] generated = java.util.Arrays.copyOfRange(all, prompt.length, all.length);
            StreamingDecoder withContext = new StreamingDecoder(t, prompt, true);
            StringBuilder text = new StringBuilder();
            for (int id : generated) {
                text.append(withContext.next(id));
            }
            assertEquals(" world", text.toString());
            StreamingDecoder bare = new StreamingDecoder(t, true);
            StringBuilder bareText = new StringBuilder();
            for (int id : generated) {
                bareText.append(bare.next(id));
            }
            assertEquals("world", bareText.toString(), "without context the decoder strips the leading space, as HF does");
        }
    }

    @Test
    void flushEmitsAnUnfinishedCharacterAsReplacement() {
        try (Tokenizer t = Tokenizer.load(dir.resolve("preset"))) {
            StreamingDecoder decoder = new StreamingDecoder(t, true);
            assertEquals("", decoder.next(3 + 0xE6)); // first byte of a 3-byte character
            assertTrue(decoder.flush().contains("\uFFFD"));
            assertEquals("", decoder.flush());
        }
    }
}
