package io.shuttle.operator.planner;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The paper's {@code Util(message size)}: the fraction of a link's bandwidth one transfer of that
 * size reaches. The paper profiles it on its M2N library; {@link #of} takes such a measured table.
 *
 * <p>Between points the fraction is interpolated linearly in {@code log2(size)}. Below the first
 * point a transfer is latency-bound, so its time stays that of the first point (the fraction
 * falls in proportion to the size); above the last point the fraction stays the last value.
 *
 * <p>Immutable; a final class rather than a record so the lookup runs on arrays (the planner
 * evaluates it millions of times per search).
 */
public final class UtilCurve {

    /** One measured (size, fraction of link bandwidth) pair. */
    public record Point(double bytes, double fraction) {
        public Point {
            if (!(bytes > 0) || !(fraction > 0) || fraction > 1) {
                throw new IllegalArgumentException("util point needs bytes > 0 and 0 < fraction <= 1, got ("
                        + bytes + ", " + fraction + ")");
            }
        }
    }

    private final List<Point> points;
    private final double[] bytes;
    private final double[] fraction;
    /** {@code log(bytes[i+1] / bytes[i])}, the interpolation denominators. */
    private final double[] logStep;

    /** A curve from (bytes, fraction) pairs, sizes strictly increasing, fractions in (0, 1]. */
    public UtilCurve(List<Point> points) {
        points = List.copyOf(points);
        if (points.isEmpty()) {
            throw new IllegalArgumentException("a util curve needs at least one point");
        }
        for (int i = 1; i < points.size(); i++) {
            if (points.get(i).bytes() <= points.get(i - 1).bytes()) {
                throw new IllegalArgumentException("util curve sizes must increase strictly, got " + points);
            }
        }
        this.points = points;
        int n = points.size();
        bytes = new double[n];
        fraction = new double[n];
        logStep = new double[Math.max(n - 1, 0)];
        for (int i = 0; i < n; i++) {
            bytes[i] = points.get(i).bytes();
            fraction[i] = points.get(i).fraction();
            if (i > 0) {
                logStep[i - 1] = Math.log(bytes[i] / bytes[i - 1]);
            }
        }
    }

    public List<Point> points() {
        return points;
    }

    /** A measured table, in any order. */
    public static UtilCurve of(List<Point> points) {
        List<Point> sorted = new ArrayList<>(points);
        sorted.sort(Comparator.comparingDouble(Point::bytes));
        return new UtilCurve(sorted);
    }

    /**
     * The stand-in used until a curve is measured: {@code peak · x / (x + halfBytes)}, sampled at
     * powers of two from 1 KiB to 64 MiB. It is the latency–bandwidth model in disguise: the time
     * of {@code x} bytes on a link of {@code W} is {@code (x + halfBytes) / (peak · W)}, a fixed cost
     * of {@code halfBytes / (peak · W)} plus {@code x} at {@code peak · W}.
     */
    public static UtilCurve saturating(double halfBytes, double peak) {
        List<Point> pts = new ArrayList<>();
        for (double x = 1024; x <= 64.0 * 1024 * 1024; x *= 2) {
            pts.add(new Point(x, peak * x / (x + halfBytes)));
        }
        return new UtilCurve(pts);
    }

    /**
     * Default: half the link rate at 128 KiB, 90 % at most. An assumption, not a measurement: at
     * 200 Gbit/s it means ~6 µs fixed cost per transfer, the order of one RDMA write with its
     * completion and the GPU-side flag handshake the paper's M2N performs (§5).
     */
    public static UtilCurve standard() {
        return saturating(128 * 1024, 0.9);
    }

    /** Fraction of link bandwidth a transfer of {@code bytes} reaches. */
    public double at(double size) {
        int n = bytes.length;
        if (size <= bytes[0]) {
            return fraction[0] * Math.max(size, 1) / bytes[0];
        }
        if (size >= bytes[n - 1]) {
            return fraction[n - 1];
        }
        int lo = 0;
        int hi = n - 1;
        while (hi - lo > 1) { // bytes[lo] < size < bytes[hi]
            int mid = (lo + hi) >>> 1;
            if (bytes[mid] < size) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        double t = Math.log(size / bytes[lo]) / logStep[lo];
        return fraction[lo] + t * (fraction[hi] - fraction[lo]);
    }

    /** Seconds to move {@code bytes} over a link of {@code bytesPerS}: {@code x / (W · Util(x))}. */
    public double seconds(double size, double bytesPerS) {
        return size <= 0 ? 0 : size / (bytesPerS * at(size));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UtilCurve u && u.points.equals(points);
    }

    @Override
    public int hashCode() {
        return points.hashCode();
    }

    @Override
    public String toString() {
        return "UtilCurve" + points;
    }
}
