package io.shuttle.tokenizer;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;

/** The test strings of {@code src/test/resources/tokenizer/parity-strings.json}. */
final class ParityStrings {

    private ParityStrings() {
    }

    static List<String> load() {
        try (InputStream in = ParityStrings.class.getResourceAsStream("/tokenizer/parity-strings.json")) {
            if (in == null) {
                throw new IllegalStateException("missing test resource /tokenizer/parity-strings.json");
            }
            return new ObjectMapper().readValue(in, new TypeReference<List<String>>() { });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The string with control and non-ASCII characters escaped, for failure messages. */
    static String escape(String s) {
        StringBuilder b = new StringBuilder("\"");
        s.codePoints().forEach(cp -> {
            if (cp >= 0x20 && cp < 0x7F) {
                b.appendCodePoint(cp);
            } else {
                b.append(String.format("\\u{%X}", cp));
            }
        });
        return b.append('"').toString();
    }
}
