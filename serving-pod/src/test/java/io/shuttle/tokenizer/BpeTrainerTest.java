package io.shuttle.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BpeTrainerTest {

    private static List<String> chars(String word) {
        return Arrays.asList(word.split(""));
    }

    /** Sennrich et al.'s example: low×5, lower×2, newest×6, widest×3; ties go to the smaller text. */
    @Test
    void learnsTheTextbookMergesInOrder() {
        Map<List<String>, Long> words = new HashMap<>();
        words.put(chars("low"), 5L);
        words.put(chars("lower"), 2L);
        words.put(chars("newest"), 6L);
        words.put(chars("widest"), 3L);
        Set<String> alphabet = Set.of("l", "o", "w", "e", "r", "n", "s", "t", "i", "d");

        List<BpeTrainer.Merge> merges = BpeTrainer.train(words, alphabet, 5);

        // (e,s)=9 and (s,t)=9 tie -> "e" first; then (es,t)=9; (l,o)=7 before (o,w)=7; (lo,w)=7;
        // then (e,w), (n,e) and (w,est) all 6 -> "e" first.
        assertEquals(List.of(
                new BpeTrainer.Merge("e", "s"),
                new BpeTrainer.Merge("es", "t"),
                new BpeTrainer.Merge("l", "o"),
                new BpeTrainer.Merge("lo", "w"),
                new BpeTrainer.Merge("e", "w")), merges);
    }

    @Test
    void mergesOverlappingPairsLeftToRightAndStopsWhenNothingIsLeft() {
        Map<List<String>, Long> words = Map.of(chars("aaaa"), 1L);

        List<BpeTrainer.Merge> merges = BpeTrainer.train(words, Set.of("a"), 10);

        assertEquals(List.of(new BpeTrainer.Merge("a", "a"), new BpeTrainer.Merge("aa", "aa")), merges);
    }

    @Test
    void aMergeThatRecreatesAKnownSymbolDoesNotCountAsNew() {
        // "abc" twice as a+bc... and "ab" "c": both paths lead to "abc"; only the first creation counts.
        Map<List<String>, Long> words = new HashMap<>();
        words.put(List.of("ab", "c"), 3L);
        words.put(List.of("a", "bc"), 2L);
        words.put(List.of("x", "y"), 1L);

        List<BpeTrainer.Merge> merges = BpeTrainer.train(words, Set.of("ab", "c", "a", "bc", "x", "y"), 2);

        assertEquals(List.of(
                new BpeTrainer.Merge("ab", "c"),
                new BpeTrainer.Merge("a", "bc"),
                new BpeTrainer.Merge("x", "y")), merges);
    }

    @Test
    void zeroNewSymbolsLearnsNothingAndNegativeIsRejected() {
        Map<List<String>, Long> words = Map.of(chars("abab"), 4L);
        assertEquals(List.of(), BpeTrainer.train(words, Set.of("a", "b"), 0));
        assertThrows(IllegalArgumentException.class, () -> BpeTrainer.train(words, Set.of("a", "b"), -1));
    }
}
