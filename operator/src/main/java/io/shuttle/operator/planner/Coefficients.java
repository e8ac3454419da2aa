package io.shuttle.operator.planner;

/**
 * The paper's {@code k1..k4} for one plan, in seconds: {@code T_a = k1·b_a + k2} per attention
 * pod, {@code T_e = k3·b_e + k4} per expert pod, each for one micro-batch in one layer. The times
 * are rooflines, so these are the linear pieces the plan runs on (memory- or compute-bound).
 */
public record Coefficients(double k1, double k2, double k3, double k4) {

    static Coefficients of(Line attention, Line expert) {
        return new Coefficients(attention.slope(), attention.intercept(), expert.slope(), expert.intercept());
    }
}
