package io.shuttle.tokenizer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * Learns BPE merges from word counts: repeatedly merges the most frequent adjacent symbol pair
 * (ties broken by the pair's text, so the result is the same on every run and JVM). Words are
 * given already split into their initial symbols, so one trainer serves both byte-level BPE
 * (symbols are byte characters) and SentencePiece-style BPE (symbols are code points).
 *
 * <p>Pair counts are kept incrementally: a merge only revisits the words that contain the pair,
 * and a priority queue with lazy invalidation finds the next best pair.
 */
final class BpeTrainer {

    /** One learned merge; {@code left + right} is the symbol it creates. */
    record Merge(String left, String right) {
        String result() {
            return left + right;
        }
    }

    private record Candidate(long pair, long count) {
    }

    private final List<String> symbolText = new ArrayList<>();
    private final Map<String, Integer> symbolIds = new HashMap<>();
    private final Set<String> vocabulary;
    private final int[][] words;
    private final long[] wordCounts;
    private final Map<Long, Long> pairCounts = new HashMap<>();
    private final Map<Long, Set<Integer>> pairWords = new HashMap<>();
    private final PriorityQueue<Candidate> queue;

    private BpeTrainer(Map<List<String>, Long> wordCounts, Set<String> initialVocabulary) {
        this.vocabulary = new HashSet<>(initialVocabulary);
        this.words = new int[wordCounts.size()][];
        this.wordCounts = new long[wordCounts.size()];
        int w = 0;
        for (Map.Entry<List<String>, Long> e : wordCounts.entrySet()) {
            List<String> symbols = e.getKey();
            int[] ids = new int[symbols.size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = intern(symbols.get(i));
            }
            words[w] = ids;
            this.wordCounts[w] = e.getValue();
            w++;
        }
        Comparator<Candidate> byCountThenText = Comparator
                .comparingLong((Candidate c) -> -c.count())
                .thenComparing(c -> symbolText.get(left(c.pair())))
                .thenComparing(c -> symbolText.get(right(c.pair())));
        this.queue = new PriorityQueue<>(byCountThenText);
    }

    /**
     * Learns merges until {@code newSymbols} symbols that are not in {@code initialVocabulary} have
     * been created, or until no adjacent pair is left (then fewer are returned; the caller decides
     * whether that is an error).
     *
     * @param wordCounts        each distinct word as its initial symbols, with its frequency
     * @param initialVocabulary the symbols the vocabulary already holds (the base alphabet)
     * @param newSymbols        how many new vocabulary entries to create
     */
    static List<Merge> train(Map<List<String>, Long> wordCounts, Set<String> initialVocabulary, int newSymbols) {
        if (newSymbols < 0) {
            throw new IllegalArgumentException("newSymbols must be >= 0, got " + newSymbols);
        }
        return new BpeTrainer(wordCounts, initialVocabulary).run(newSymbols);
    }

    private List<Merge> run(int newSymbols) {
        for (int w = 0; w < words.length; w++) {
            addPairs(w, words[w], new HashSet<>());
        }
        for (Long pair : pairCounts.keySet()) {
            queue.add(new Candidate(pair, pairCounts.get(pair)));
        }
        List<Merge> merges = new ArrayList<>();
        int created = 0;
        while (created < newSymbols) {
            Candidate best = pollValid();
            if (best == null) {
                break;
            }
            Merge merge = new Merge(symbolText.get(left(best.pair())), symbolText.get(right(best.pair())));
            merges.add(merge);
            if (vocabulary.add(merge.result())) {
                created++;
            }
            applyMerge(best.pair(), intern(merge.result()));
        }
        return merges;
    }

    /** The best queued pair whose count is still current, or null when no pair is left. */
    private Candidate pollValid() {
        Candidate c;
        while ((c = queue.poll()) != null) {
            Long current = pairCounts.get(c.pair());
            if (current != null && current == c.count() && current > 0) {
                return c;
            }
        }
        return null;
    }

    private void applyMerge(long pair, int mergedId) {
        int a = left(pair);
        int b = right(pair);
        Set<Long> changed = new HashSet<>();
        for (int w : pairWords.remove(pair)) {
            int[] old = words[w];
            if (!contains(old, a, b)) {
                continue; // stale index entry: an earlier merge already consumed the pair here
            }
            int[] merged = replace(old, a, b, mergedId);
            removePairs(w, old, changed);
            addPairs(w, merged, changed);
            words[w] = merged;
        }
        pairCounts.remove(pair);
        changed.remove(pair);
        for (long p : changed) {
            long count = pairCounts.getOrDefault(p, 0L);
            if (count > 0) {
                queue.add(new Candidate(p, count));
            }
        }
    }

    private void addPairs(int w, int[] symbols, Set<Long> changed) {
        for (int i = 0; i + 1 < symbols.length; i++) {
            long p = pair(symbols[i], symbols[i + 1]);
            pairCounts.merge(p, wordCounts[w], Long::sum);
            pairWords.computeIfAbsent(p, k -> new HashSet<>()).add(w);
            changed.add(p);
        }
    }

    private void removePairs(int w, int[] symbols, Set<Long> changed) {
        for (int i = 0; i + 1 < symbols.length; i++) {
            long p = pair(symbols[i], symbols[i + 1]);
            pairCounts.merge(p, -wordCounts[w], Long::sum);
            changed.add(p);
        }
    }

    /** Left-to-right, non-overlapping replacement of (a, b) by the merged symbol, as BPE applies it. */
    private static int[] replace(int[] symbols, int a, int b, int mergedId) {
        int[] out = new int[symbols.length];
        int n = 0;
        for (int i = 0; i < symbols.length; i++) {
            if (i + 1 < symbols.length && symbols[i] == a && symbols[i + 1] == b) {
                out[n++] = mergedId;
                i++;
            } else {
                out[n++] = symbols[i];
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    private static boolean contains(int[] symbols, int a, int b) {
        for (int i = 0; i + 1 < symbols.length; i++) {
            if (symbols[i] == a && symbols[i + 1] == b) {
                return true;
            }
        }
        return false;
    }

    private int intern(String symbol) {
        Integer id = symbolIds.get(symbol);
        if (id == null) {
            id = symbolText.size();
            symbolText.add(symbol);
            symbolIds.put(symbol, id);
        }
        return id;
    }

    private static long pair(int a, int b) {
        return ((long) a << 32) | (b & 0xFFFFFFFFL);
    }

    private static int left(long pair) {
        return (int) (pair >>> 32);
    }

    private static int right(long pair) {
        return (int) pair;
    }
}
