package io.shuttle.tokenizer;

import java.util.Arrays;
import java.util.Objects;

/**
 * Turns generated token ids into text as they arrive, for streaming to a client. Feed ids one at
 * a time; each call returns the text that became final with that id, possibly empty.
 *
 * <p>Decoding ids one by one is wrong in two ways: a character may be split over several tokens
 * (byte-level BPE and byte fallback emit UTF-8 bytes), and decoders treat the first token of a
 * sequence specially (SentencePiece's leading "▁" is stripped). So, like Hugging Face's
 * text-generation-inference, this decodes a small window twice — the tokens already emitted since
 * the last stable point, with and without the new ones — and emits the difference only when the
 * text does not end in U+FFFD, the mark of an incomplete UTF-8 sequence. The window restarts after
 * every emission, so each step costs O(window), not O(sequence).
 *
 * <p>Not thread-safe: one instance per sequence.
 */
public final class StreamingDecoder {

    private static final char REPLACEMENT = '\uFFFD';

    private final Tokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private int[] ids;
    private int size;
    /** Start of the window: ids before it are never decoded again. */
    private int prefixOffset;
    /** End of the ids whose text has been emitted. */
    private int readOffset;

    /** A decoder for a sequence whose generated text starts from nothing. */
    public StreamingDecoder(Tokenizer tokenizer, boolean skipSpecialTokens) {
        this(tokenizer, new int[0], skipSpecialTokens);
    }

    /**
     * A decoder that continues after {@code contextIds} (typically the last few prompt tokens):
     * their text is not emitted, but it gives the first generated tokens their context, so that
     * a leading space is kept, as in the full decoded text.
     */
    public StreamingDecoder(Tokenizer tokenizer, int[] contextIds, boolean skipSpecialTokens) {
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.skipSpecialTokens = skipSpecialTokens;
        this.ids = Arrays.copyOf(contextIds, Math.max(16, contextIds.length * 2));
        this.size = contextIds.length;
        this.prefixOffset = 0;
        this.readOffset = contextIds.length;
    }

    /** Adds one generated id and returns the text it completes ("" while a character is still partial). */
    public String next(int id) {
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, size * 2);
        }
        ids[size++] = id;
        String prefixText = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset), skipSpecialTokens);
        String newText = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, size), skipSpecialTokens);
        if (newText.length() > prefixText.length() && newText.charAt(newText.length() - 1) != REPLACEMENT) {
            prefixOffset = readOffset;
            readOffset = size;
            return newText.substring(prefixText.length());
        }
        return "";
    }

    /**
     * Returns whatever text is still held back (at the end of a sequence: an incomplete UTF-8
     * sequence, which decodes to U+FFFD as in the full decoded text) and marks it emitted.
     */
    public String flush() {
        if (readOffset == size) {
            return "";
        }
        String prefixText = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset), skipSpecialTokens);
        String newText = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, size), skipSpecialTokens);
        prefixOffset = readOffset;
        readOffset = size;
        return newText.length() > prefixText.length() ? newText.substring(prefixText.length()) : "";
    }
}
