package io.shuttle.operator.planner;

/**
 * The paper's SIMULATE: for one hardware shape, {@code n_a} and {@code m}, the largest micro-batch
 * that meets memory, the TBT SLO and the ping-pong conditions, found by binary search.
 *
 * <p>Iteration time. With {@code T_f = max(T_a, T_e)} one layer of the pipeline takes
 * {@code cycle = max(m·T_f, T_a + T_e + 2·T_c)}: the pods' work, or one micro-batch's round trip if
 * that is longer. The whole batch then takes
 * {@code (T_a + T_e + 2T_c) + (L−1)·cycle + (m−1)·T_f}, which is exactly Eq. 5,
 * {@code (T_a + T_e + 2T_c) + T_f·(mL − 1)}, whenever the overlap is full ({@code cycle = m·T_f}),
 * and stays right for {@code m = 1, 2}. The output head adds {@code m · T_head}.
 *
 * <p>Memory (Eq. 8, solved in closed form) and the TBT grow with {@code b_a}, so a galloping
 * binary search finds the largest {@code b_a} they allow; throughput per cost grows with
 * {@code b_a} too, so that is the best size unless the ping-pong conditions fail there, in which
 * case {@link #largestOverlapping} looks below it.
 */
final class Simulator {

    /** What one (hardware, n_a, m) candidate came to. */
    sealed interface Outcome {
    }

    /**
     * The best estimate, and the largest micro-batch memory and the SLO allow: with more attention
     * pods it can only shrink (each adds tokens per expert), so it bounds the next search.
     */
    record Fits(Estimate estimate, int sloBound) implements Outcome {
    }

    /** Even one sequence per micro-batch misses the SLO; {@code tbt} is that fastest time. */
    record TooSlow(double tbt) implements Outcome {
    }

    /** No micro-batch size meets the ping-pong conditions; {@code tcOverTf} at one sequence. */
    record NoOverlap(double tcOverTf) implements Outcome {
    }

    /** Weights plus one sequence's KV cache do not fit an attention pod. */
    record NoMemory() implements Outcome {
    }

    /** Grid points of the search for the largest overlapping micro-batch. */
    static final int OVERLAP_GRID = 32;

    private final PerformanceModel perf;
    private final SearchSpace space;
    private final double sloS;

    Simulator(PerformanceModel perf, SearchSpace space, double sloS) {
        this.perf = perf;
        this.space = space;
        this.sloS = sloS;
    }

    /** The model of one hardware shape, computed once for all its {@code n_a} and {@code m}. */
    record Shape(Hardware hw, LayerTime attention, LayerTime expert, LayerTime head, int expertPods,
                 double attentionCapacity, double expertCapacity, double expertBytes) {

        boolean expertsFit() {
            return expertBytes <= expertCapacity;
        }
    }

    Shape shape(Hardware hw) {
        ModelShape model = perf.model();
        return new Shape(hw,
                perf.attention(hw.attentionGpu(), hw.tpA()),
                perf.expert(hw.expertGpu(), hw.tpE(), hw.expertsPerPod()),
                perf.head(hw.attentionGpu(), hw.tpA()),
                model.experts() / hw.expertsPerPod(),
                perf.capacity(hw.attentionGpu(), hw.tpA()),
                perf.capacity(hw.expertGpu(), hw.tpE()),
                perf.expertPodBytes(hw.expertsPerPod()));
    }

    /** The model at one micro-batch size. */
    Estimate estimate(Shape s, int nA, int m, int ba) {
        Hardware hw = s.hw();
        double be = tokensPerExpertPod(s, nA, ba);
        double ta = s.attention().at(ba);
        double te = s.expert().at(be);
        double tc = transfer(s, ba, be);
        double cost = hw.tpA() * nA * hw.attentionGpu().pricePerHour()
                + hw.tpE() * s.expertPods() * hw.expertGpu().pricePerHour();
        return new Estimate(hw, nA, s.expertPods(), m, ba, be, ta, te, tc, s.head().at(ba),
                tbt(s, m, ba, ta, te, tc), perf.attentionPodBytes(hw.tpA(), m, ba), s.expertBytes(), cost);
    }

    /** {@code b_e = b_a · n_a · K / expert pods} (uniform routing). */
    private double tokensPerExpertPod(Shape s, int nA, int ba) {
        return (double) ba * nA * perf.model().topK() / s.expertPods();
    }

    /** {@code T_c}: the slower of what an attention GPU sends and an expert GPU receives (Eq. 6). */
    private double transfer(Shape s, int ba, double be) {
        Hardware hw = s.hw();
        return Math.max(perf.sendSeconds(hw.attentionGpu(), hw.tpA(), ba),
                perf.receiveSeconds(hw.expertGpu(), hw.tpE(), be));
    }

    /** Time between tokens: Eq. 5 generalised to any overlap (class comment) plus {@code m} output heads. */
    private double tbt(Shape s, int m, int ba, double ta, double te, double tc) {
        double tf = Math.max(ta, te);
        double roundTrip = ta + te + 2 * tc;
        double cycle = Math.max(m * tf, roundTrip);
        return roundTrip + (perf.model().layers() - 1) * cycle + (m - 1) * tf + m * s.head().at(ba);
    }

    /** The TBT alone, for the binary search (no allocation). */
    private double tbt(Shape s, int nA, int m, int ba) {
        double be = tokensPerExpertPod(s, nA, ba);
        return tbt(s, m, ba, s.attention().at(ba), s.expert().at(be), transfer(s, ba, be));
    }

    /** SIMULATE: the largest feasible micro-batch for ({@code n_a}, {@code m}) on this shape. */
    Outcome best(Shape s, int nA, int m) {
        return best(s, nA, m, space.maxBatchPerPod());
    }

    /** As {@link #best(Shape, int, int)}, knowing that no micro-batch above {@code upper} meets the SLO. */
    Outcome best(Shape s, int nA, int m, int upper) {
        Estimate one = estimate(s, nA, m, 1);
        if (one.attentionPodBytes() > s.attentionCapacity()) {
            return new NoMemory();
        }
        if (one.tbt() > sloS) {
            return new TooSlow(one.tbt());
        }
        int sloBound = largestWithinSlo(s, nA, m,
                (int) Math.min(Math.min(upper, space.maxBatchPerPod()), largestBatchInMemory(s, m)));
        Estimate top = estimate(s, nA, m, sloBound);
        if (overlaps(top)) {
            return new Fits(top, sloBound);
        }
        int ok = largestOverlapping(s, nA, m, sloBound);
        if (ok == 0) {
            return new NoOverlap(one.tc() / one.tf());
        }
        return new Fits(estimate(s, nA, m, ok), sloBound);
    }

    /**
     * The largest {@code b_a < hi} that meets the ping-pong conditions, or 0. {@code T_c / T_f} is
     * not monotone in {@code b_a} (rooflines and the util curve bend both), so this walks down a
     * geometric grid of {@value #OVERLAP_GRID} sizes to the first that overlaps and bisects the
     * cell above it: exact unless the condition flips more than once within one cell (each spans
     * a factor of at most {@code hi^(1/}{@value #OVERLAP_GRID}{@code )}, under 1.33 for 8192).
     */
    private int largestOverlapping(Shape s, int nA, int m, int hi) {
        int bad = hi;
        for (int j = OVERLAP_GRID - 1; j >= 0; j--) {
            int probe = Math.min(bad - 1, (int) Math.floor(Math.pow(hi, (double) j / OVERLAP_GRID)));
            if (probe < 1) {
                break;
            }
            if (!overlapsAt(s, nA, m, probe)) {
                bad = probe;
                continue;
            }
            int ok = probe;
            while (bad - ok > 1) { // invariant: ok overlaps, bad does not
                int mid = ok + (bad - ok) / 2;
                if (overlapsAt(s, nA, m, mid)) {
                    ok = mid;
                } else {
                    bad = mid;
                }
            }
            return ok;
        }
        return 0;
    }

    /**
     * The largest {@code b_a ≤ hi} whose TBT meets the SLO, given that {@code b_a = 1} does. The
     * answer is usually {@code hi} itself (memory binds) or just below the previous {@code n_a}'s, so
     * it gallops down from {@code hi} and then bisects the last step.
     */
    private int largestWithinSlo(Shape s, int nA, int m, int hi) {
        if (hi <= 1 || tbt(s, nA, m, hi) <= sloS) {
            return Math.max(hi, 1);
        }
        int bad = hi; // invariant: bad misses the SLO, ok meets it
        int step = 1;
        int ok;
        while (true) {
            int probe = hi - step;
            if (probe <= 1) {
                ok = 1;
                break;
            }
            if (tbt(s, nA, m, probe) <= sloS) {
                ok = probe;
                break;
            }
            bad = probe;
            step *= 2;
        }
        while (bad - ok > 1) {
            int mid = ok + (bad - ok) / 2;
            if (tbt(s, nA, m, mid) <= sloS) {
                ok = mid;
            } else {
                bad = mid;
            }
        }
        return ok;
    }

    /** Eq. 8 solved for {@code b_a}: {@code (capacity − weights) / (m · KV per sequence)}. */
    private double largestBatchInMemory(Shape s, int m) {
        double free = s.attentionCapacity() - perf.attentionPodBytes(s.hw().tpA(), 0, 0);
        return Math.max(1, Math.floor(free / (m * perf.kvBytesPerSequence(s.hw().tpA()))));
    }

    /** {@link #overlaps} at one micro-batch size, without building an {@link Estimate} (the hot path). */
    private boolean overlapsAt(Shape s, int nA, int m, int ba) {
        double be = tokensPerExpertPod(s, nA, ba);
        return overlaps(m, Math.max(s.attention().at(ba), s.expert().at(be)), transfer(s, ba, be));
    }

    /**
     * The ping-pong conditions (§4.1): for {@code m ≥ 3}, {@code T_c < T_f} (Eq. 2) and
     * {@code m·T_f ≥ 2(T_f + T_c)} (Eq. 3), so {@code m = 3} needs {@code T_c ≤ T_f/2} and
     * {@code m = 4} needs {@code T_c < T_f}. {@code m = 2} never hides a transfer fully, so it is
     * allowed only with a small idle gap ({@link SearchSpace#twoMicroBatchMaxTc}); {@code m = 1}
     * does not overlap at all and has no condition (its time already counts the transfers).
     */
    boolean overlaps(Estimate e) {
        return overlaps(e.microBatches(), e.tf(), e.tc());
    }

    private boolean overlaps(int m, double tf, double tc) {
        if (m == 1) {
            return true;
        }
        if (m == 2) {
            return tc <= space.twoMicroBatchMaxTc() * tf;
        }
        return tc < tf && m * tf >= 2 * (tf + tc);
    }

    /** The smallest {@code m ≥ 3} that fully overlaps: 3 when {@code T_c ≤ T_f/2}, else 4 (while {@code T_c < T_f}). */
    static int minimumOverlappingMicroBatches(double tc, double tf) {
        if (!(tc < tf)) {
            throw new IllegalArgumentException("no m overlaps when T_c (" + tc + ") is not below T_f (" + tf + ")");
        }
        return (int) Math.max(3, Math.ceil(2 * (1 + tc / tf)));
    }
}
