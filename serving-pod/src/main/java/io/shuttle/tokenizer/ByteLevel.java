package io.shuttle.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GPT-2's byte-level alphabet, as the Hugging Face {@code ByteLevel} pre-tokenizer and decoder use
 * it: every byte maps to one printable code point, so any UTF-8 text becomes a string over 256
 * symbols and nothing is ever unknown.
 */
final class ByteLevel {

    /**
     * The split pattern of the {@code ByteLevel} pre-tokenizer ({@code use_regex: true}): contractions,
     * optionally space-led runs of letters, of digits, of other symbols, and whitespace runs where
     * the last space stays with the next word (that is how "Ġthe" arises).
     */
    private static final Pattern SPLIT = Pattern.compile(
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
            Pattern.UNICODE_CHARACTER_CLASS);

    private static final char[] BYTE_TO_CHAR = buildByteToChar();

    private ByteLevel() {
    }

    /** GPT-2's {@code bytes_to_unicode}: printable Latin-1 bytes keep their code point, the others move to 256+. */
    private static char[] buildByteToChar() {
        char[] map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char) b : (char) next++;
        }
        return map;
    }

    /** The symbol that stands for one byte (0..255). */
    static String symbol(int unsignedByte) {
        return String.valueOf(BYTE_TO_CHAR[unsignedByte]);
    }

    /** The byte-level symbols of a piece of text: one per UTF-8 byte. */
    static List<String> symbols(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        List<String> out = new ArrayList<>(bytes.length);
        for (byte b : bytes) {
            out.add(symbol(b & 0xFF));
        }
        return out;
    }

    /** Splits text into the pieces BPE works on, the way the ByteLevel pre-tokenizer does. */
    static List<String> split(String text) {
        List<String> pieces = new ArrayList<>();
        Matcher m = SPLIT.matcher(text);
        while (m.find()) {
            pieces.add(m.group());
        }
        return pieces;
    }
}
