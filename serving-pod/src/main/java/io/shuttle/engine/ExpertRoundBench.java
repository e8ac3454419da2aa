package io.shuttle.engine;

import io.shuttle.kernels.Backend;
import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import io.shuttle.model.ModelConfig;

import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Times what an expert pod does per round, {@link ExpertStage#forward} over one layer's held
 * experts, at several row counts: the cost model behind micro-batching. A pipeline at m
 * micro-batches gives each round 1/m of the rows, so the expert side gains from m only as far
 * as a round's cost falls with its rows. Rows are routed top-k at random over every held
 * expert, as a large batch spreads over them.
 *
 * <p>Two figures per row count: <em>layers in turn</em> runs layer 0, 1, …, L−1 again and again,
 * as the pod serves a decode step, so each round finds its experts where the other layers' rounds
 * left the caches; <em>one layer</em> repeats layer 0, its experts as hot as the caches allow.
 * Their difference is what fetching the weights costs.
 */
public final class ExpertRoundBench implements AutoCloseable {
    private final ModelConfig config;
    private final ExpertStage stage;
    private final Backend backend;
    private final int maxRows;
    private final int[] held;
    private final Tensor x;
    private final Tensor ids;
    private final Tensor scales;
    private final Tensor out;
    private final java.lang.foreign.MemorySegment sink;

    /** One row count's cost per round, in microseconds (medians of the timed passes). */
    public record Point(int rows, double layersInTurnMicros, double oneLayerMicros) {
    }

    /** A line through the points: {@code fixed + perRow · rows} µs per round. */
    public record Fit(double fixedMicros, double perRowMicros) {
    }

    /**
     * @param weights the experts the stage holds (an expert pod's own set, or all)
     * @param maxRows the largest row count that will be measured
     */
    public ExpertRoundBench(ModelConfig config, ExpertWeights weights, Backend backend, int maxRows) {
        if (maxRows < 1) {
            throw new IllegalArgumentException("rows must be ≥ 1, got " + maxRows);
        }
        this.config = config;
        this.backend = backend;
        this.maxRows = maxRows;
        this.held = java.util.stream.IntStream.range(0, config.numExperts()).filter(weights::holds).toArray();
        if (held.length < config.topK()) {
            throw new IllegalArgumentException("the stage holds " + held.length + " experts, fewer than top-k = "
                    + config.topK() + ": rows could not be routed to k distinct held experts");
        }
        this.stage = new ExpertStage(config, weights, backend, maxRows);
        x = backend.allocate(DType.F32, maxRows, config.hiddenSize());
        ids = backend.allocate(DType.I32, maxRows, config.topK());
        scales = backend.allocate(DType.F32, maxRows, config.topK());
        out = backend.allocate(DType.F32, maxRows, config.hiddenSize());
        sink = Arena.ofAuto().allocate((long) config.hiddenSize() * Float.BYTES, 64);
    }

    /** Experts held per layer. */
    public int heldExperts() {
        return held.length;
    }

    /**
     * The cost of one round of {@code rows} rows: passes over every layer in turn and passes over
     * layer 0 alternate until {@code budgetNanos} is spent (at least {@code minPasses} of each);
     * each figure is the median pass divided by the layer count. The first pass of each kind is
     * not counted (first touch, JIT).
     */
    public Point measure(int rows, long budgetNanos, int minPasses, long seed) {
        if (rows < 1 || rows > maxRows) {
            throw new IllegalArgumentException("rows must be in 1.." + maxRows + ", got " + rows);
        }
        upload(rows, seed);
        Tensor xr = x.rows(0, rows);
        Tensor ir = ids.rows(0, rows);
        Tensor sr = scales.rows(0, rows);
        Tensor or = out.rows(0, rows);
        int layers = config.numLayers();
        pass(xr, ir, sr, or, true);
        pass(xr, ir, sr, or, false);
        double[] inTurn = new double[16];
        double[] one = new double[16];
        int n = 0;
        long deadline = System.nanoTime() + budgetNanos;
        while (n < minPasses || System.nanoTime() < deadline) {
            if (n == inTurn.length) {
                inTurn = Arrays.copyOf(inTurn, 2 * n);
                one = Arrays.copyOf(one, 2 * n);
            }
            inTurn[n] = pass(xr, ir, sr, or, true) / 1e3 / layers;
            one[n] = pass(xr, ir, sr, or, false) / 1e3 / layers;
            n++;
        }
        return new Point(rows, median(inTurn, n), median(one, n));
    }

    /** Nanoseconds for one round per layer: layers 0..L−1 in turn, or layer 0 L times. */
    private long pass(Tensor xr, Tensor ir, Tensor sr, Tensor or, boolean layersInTurn) {
        int layers = config.numLayers();
        long t0 = System.nanoTime();
        for (int l = 0; l < layers; l++) {
            stage.forward(layersInTurn ? l : 0, xr, ir, sr, or);
        }
        backend.copyToHost(or.rows(0, 1), sink); // waits for a device backend's queued work
        return System.nanoTime() - t0;
    }

    /** Gaussian rows, each routed to k distinct held experts with random weights summing to 1. */
    private void upload(int rows, long seed) {
        int k = config.topK();
        int hidden = config.hiddenSize();
        SplittableRandom random = new SplittableRandom(seed);
        try (Arena arena = Arena.ofConfined()) {
            Tensor hx = Tensor.allocate(arena, DType.F32, rows, hidden);
            for (long i = 0; i < hx.numel(); i++) {
                hx.setFloat(i, (float) (random.nextGaussian()));
            }
            Tensor hids = Tensor.allocate(arena, DType.I32, rows, k);
            Tensor hw = Tensor.allocate(arena, DType.F32, rows, k);
            int[] pool = held.clone();
            float[] w = new float[k];
            for (int t = 0; t < rows; t++) {
                float sum = 0;
                for (int j = 0; j < k; j++) {
                    int pick = j + random.nextInt(pool.length - j); // partial Fisher-Yates: k distinct experts
                    int e = pool[pick];
                    pool[pick] = pool[j];
                    pool[j] = e;
                    hids.setInt((long) t * k + j, e);
                    w[j] = 0.1f + (float) random.nextDouble();
                    sum += w[j];
                }
                for (int j = 0; j < k; j++) {
                    hw.setFloat((long) t * k + j, w[j] / sum);
                }
            }
            backend.copyFromHost(hx.data(), x.rows(0, rows));
            backend.copyFromHost(hids.data(), ids.rows(0, rows));
            backend.copyFromHost(hw.data(), scales.rows(0, rows));
        }
    }

    /**
     * Least squares through the points' layers-in-turn figures. Needs two distinct row counts.
     */
    public static Fit fit(List<Point> points) {
        long distinct = points.stream().mapToInt(Point::rows).distinct().count();
        if (distinct < 2) {
            throw new IllegalArgumentException("a fixed and a per-row cost need at least two row counts, got " + distinct);
        }
        double n = points.size();
        double sx = 0;
        double sy = 0;
        for (Point p : points) {
            sx += p.rows();
            sy += p.layersInTurnMicros();
        }
        double mx = sx / n;
        double my = sy / n;
        double sxx = 0;
        double sxy = 0;
        for (Point p : points) {
            sxx += (p.rows() - mx) * (p.rows() - mx);
            sxy += (p.rows() - mx) * (p.layersInTurnMicros() - my);
        }
        double slope = sxy / sxx;
        return new Fit(my - slope * mx, slope);
    }

    private static double median(double[] v, int n) {
        double[] s = Arrays.copyOf(v, n);
        Arrays.sort(s);
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    @Override
    public void close() {
        for (Tensor t : new Tensor[] {x, ids, scales, out}) {
            backend.release(t);
        }
        stage.close();
    }
}
