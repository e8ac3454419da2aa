package io.shuttle.operator.planner;

import java.util.List;

/**
 * Time of one micro-batch of {@code b} items (sequences or tokens) in one layer on one pod, in
 * seconds: a sum of roofline kernels plus serial work that cannot overlap them.
 *
 * <p>Each kernel streams {@code fixedBytes + b·bytesPerItem} and computes {@code b·flopsPerItem};
 * its time is the larger of the two at the achievable rates (the roofline). The result is
 * piecewise linear and increasing in {@code b}; the paper's {@code T = k·b + c} is the piece a plan
 * runs on ({@link #tangentAt}).
 *
 * @param kernels the streamed kernels
 * @param serial  fixed launch costs and the tensor-parallel all-reduce
 */
record LayerTime(List<Kernel> kernels, Line serial) {

    /** One kernel: {@code max(memFixedS + memPerItemS·b, computePerItemS·b)}. */
    record Kernel(double memFixedS, double memPerItemS, double computePerItemS) {

        double at(double b) {
            return Math.max(memFixedS + memPerItemS * b, computePerItemS * b);
        }

        double slopeAt(double b) {
            return memFixedS + memPerItemS * b >= computePerItemS * b ? memPerItemS : computePerItemS;
        }
    }

    LayerTime {
        kernels = List.copyOf(kernels);
    }

    double at(double b) {
        double t = serial.at(b);
        for (Kernel k : kernels) {
            t += k.at(b);
        }
        return t;
    }

    /** The linear piece at {@code b}: {@code k·b + c} with the slope of the regime each kernel is in. */
    Line tangentAt(double b) {
        double slope = serial.slope();
        for (Kernel k : kernels) {
            slope += k.slopeAt(b);
        }
        return new Line(slope, at(b) - slope * b);
    }
}
