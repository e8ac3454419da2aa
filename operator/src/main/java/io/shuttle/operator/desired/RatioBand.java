package io.shuttle.operator.desired;

import java.util.Locale;

/**
 * The band for attention pods / expert pods that autoscaling keeps.
 *
 * @param min lowest attention pods per expert pod
 * @param max highest attention pods per expert pod
 */
public record RatioBand(double min, double max) {

    public RatioBand {
        if (!(min > 0) || !(max >= min) || !Double.isFinite(max)) {
            throw new IllegalArgumentException("a ratio band needs 0 < min ≤ max, got " + min + ".." + max);
        }
    }

    /** "0.1-0.5", for the status. */
    @Override
    public String toString() {
        return format(min) + "-" + format(max);
    }

    private static String format(double v) {
        return String.format(Locale.ROOT, "%.3g", v).replaceAll("(\\.\\d*?)0+$", "$1").replaceAll("\\.$", "");
    }
}
