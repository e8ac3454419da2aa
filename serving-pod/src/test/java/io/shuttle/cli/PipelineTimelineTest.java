package io.shuttle.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PipelineTimelineTest {

    /** One lane: nothing overlaps, a step is every round of both pods, both hops, and the boundary. */
    @Test
    void oneLaneIsTheSumOfEverything() {
        var r = PipelineTimeline.simulate(new PipelineTimeline.Params(8, 1, 1000, 1200, 500, 100));
        double step = 8 * (1000 + 1200 + 2 * 100) + 500;
        assertEquals(step, r.stepMicros(), 1e-6);
        assertEquals(1 - (8 * 1000 + 500) / step, r.idleAttention(), 1e-9);
        assertEquals(1 - 8 * 1200 / step, r.idleExperts(), 1e-9);
    }

    /** Two lanes, equal rounds, no boundary and no hops: the pods alternate without a gap. */
    @Test
    void twoBalancedLanesWithNothingBetweenThemHaveNoBubbles() {
        var r = PipelineTimeline.simulate(new PipelineTimeline.Params(8, 2, 1000, 1000, 0, 0));
        assertEquals(2 * 8 * 1000, r.stepMicros(), 1e-6);
        assertEquals(0, r.idleAttention(), 1e-9);
        assertEquals(0, r.idleExperts(), 1e-9);
    }

    /**
     * At each lane's boundary the expert pod has one round (the other lane's last) to work on while
     * the attention pod runs the boundary and layer 0: with T_a = T_e and no hops it waits B per lane,
     * and the attention pod never does.
     */
    @Test
    void twoLanesWaitAtEachBoundaryForWhatTheOtherLaneCannotCover() {
        double t = 1000, b = 600;
        var r = PipelineTimeline.simulate(new PipelineTimeline.Params(8, 2, t, t, b, 0));
        double step = 2 * 8 * t + 2 * b;
        assertEquals(step, r.stepMicros(), 1e-6);
        assertEquals(2 * b / step, r.idleExperts(), 1e-9);
        assertEquals(0, r.idleAttention(), 1e-9);
    }

    /**
     * MegaScale-Infer's condition m ≥ 2(1 + T_c / T_f): at m = 2 any hop shows. A lane's round trip
     * (T_a + 2h + T_e) is longer than the other lane's round on either pod, so each layer takes
     * T_a + T_e + 2h and both pods wait 2h in it.
     */
    @Test
    void twoLanesPayBothHopsInEveryLayer() {
        double t = 1000, h = 50;
        var r = PipelineTimeline.simulate(new PipelineTimeline.Params(8, 2, t, t, 0, h));
        double step = 8 * (2 * t + 2 * h);
        assertEquals(step, r.stepMicros(), 1e-6);
        assertEquals(8 * 2 * h / step, r.idleExperts(), 1e-9);
        assertEquals(8 * 2 * h / step, r.idleAttention(), 1e-9);
    }

    /**
     * More lanes put more rounds in front of each boundary: with three, the step is as long as the
     * busier pod's work (no bubble, only the imbalance the boundary makes); with two, longer.
     */
    @Test
    void threeLanesHideABoundaryThatTwoCannot() {
        double b = 600, h = 50;
        var two = PipelineTimeline.simulate(new PipelineTimeline.Params(8, 2, 1000, 1000, b, h));
        assertTrue(two.stepMicros() > 2 * 8 * 1000 + 2 * b + 100, "two lanes: " + two);
        double t3 = 2000 / 3.0;
        var three = PipelineTimeline.simulate(new PipelineTimeline.Params(8, 3, t3, t3, 2 * b / 3, h));
        double attentionBusy = 3 * 8 * t3 + 2 * b;
        assertEquals(attentionBusy, three.stepMicros(), 1e-6, "three lanes: " + three);
        assertEquals(0, three.idleAttention(), 1e-9);
    }

    @Test
    void refusesNonsense() {
        assertThrows(IllegalArgumentException.class, () -> new PipelineTimeline.Params(0, 2, 1, 1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new PipelineTimeline.Params(8, 2, Double.NaN, 1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new PipelineTimeline.Params(8, 2, 1, -1, 1, 1));
    }
}
