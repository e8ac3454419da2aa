package io.shuttle.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
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
 * and only the pairs next to a merged position; a priority queue with lazy invalidation finds the
 * next best pair.
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
    /** For each pair, the words that contain (or once contained) it; may hold duplicates and stale entries. */
    private final Map<Long, IntList> pairWords = new HashMap<>();
    /** visited[w] == mergeStamp when word w was already handled by the current merge. */
    private final int[] visited;
    private int mergeStamp;
    private final PriorityQueue<Candidate> queue;

    private BpeTrainer(Map<List<String>, Long> wordCounts, Set<String> initialVocabulary) {
        this.vocabulary = new HashSet<>(initialVocabulary);
        this.words = new int[wordCounts.size()][];
        this.wordCounts = new long[wordCounts.size()];
        this.visited = new int[wordCounts.size()];
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
            countPairs(w);
        }
        for (Map.Entry<Long, Long> e : pairCounts.entrySet()) {
            queue.add(new Candidate(e.getKey(), e.getValue()));
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

    private void countPairs(int w) {
        int[] symbols = words[w];
        for (int i = 0; i + 1 < symbols.length; i++) {
            long p = pair(symbols[i], symbols[i + 1]);
            pairCounts.merge(p, wordCounts[w], Long::sum);
            pairWords.computeIfAbsent(p, k -> new IntList()).add(w);
        }
    }

    private void applyMerge(long pair, int mergedId) {
        mergeStamp++;
        Set<Long> changed = new HashSet<>();
        IntList where = pairWords.remove(pair);
        for (int i = 0; i < where.size; i++) {
            int w = where.values[i];
            if (visited[w] != mergeStamp) {
                visited[w] = mergeStamp;
                mergeInWord(w, left(pair), right(pair), mergedId, changed);
            }
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

    /**
     * Replaces (a, b) in one word, left to right and without overlap as BPE applies merges, and
     * updates the counts of only the pairs that touch a replaced position: every other adjacent
     * pair is the same before and after.
     */
    private void mergeInWord(int w, int a, int b, int mergedId, Set<Long> changed) {
        int[] old = words[w];
        boolean[] touched = new boolean[old.length];
        int[] merged = new int[old.length];
        boolean[] isNew = new boolean[old.length];
        int n = 0;
        for (int i = 0; i < old.length; i++) {
            if (i + 1 < old.length && old[i] == a && old[i + 1] == b) {
                touched[i] = true;
                touched[i + 1] = true;
                isNew[n] = true;
                merged[n++] = mergedId;
                i++;
            } else {
                merged[n++] = old[i];
            }
        }
        if (n == old.length) {
            return; // stale index entry: an earlier merge already consumed the pair here
        }
        long count = wordCounts[w];
        for (int k = 0; k + 1 < old.length; k++) {
            if (touched[k] || touched[k + 1]) {
                long p = pair(old[k], old[k + 1]);
                pairCounts.merge(p, -count, Long::sum);
                changed.add(p);
            }
        }
        for (int k = 0; k + 1 < n; k++) {
            if (isNew[k] || isNew[k + 1]) {
                long p = pair(merged[k], merged[k + 1]);
                pairCounts.merge(p, count, Long::sum);
                pairWords.computeIfAbsent(p, key -> new IntList()).add(w);
                changed.add(p);
            }
        }
        words[w] = Arrays.copyOf(merged, n);
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

    /** A growable list of word indices; boxing every index into a HashSet cost more than the merges. */
    private static final class IntList {
        int[] values = new int[4];
        int size;

        void add(int v) {
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = v;
        }
    }
}
