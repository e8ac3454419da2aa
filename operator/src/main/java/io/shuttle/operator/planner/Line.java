package io.shuttle.operator.planner;

/**
 * The paper's linear time model of one micro-batch in one layer: {@code t(b) = slope · b + intercept}
 * seconds ({@code T_a = k1·b_a + k2}, {@code T_e = k3·b_e + k4}).
 */
public record Line(double slope, double intercept) {

    public double at(double b) {
        return slope * b + intercept;
    }
}
