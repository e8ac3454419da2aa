package io.shuttle.cli;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PipelineBalanceTest {

    @Test
    void scalesTheIntermediateSizeSoTheFfnFillsTheAttentionPodsBusyTime() {
        // The first Zen 4 run: attention busy 17.3 ms a step, FFN 9.44 ms at 256, combine ~0.
        assertEquals(480, PipelineBalance.balancedIntermediate(256, new PipelineBalance.StepBusy(17_300, 9_440, 0)));
        // The expert pod's other work (combine) is not FFN: it comes off the FFN's share.
        assertEquals(448, PipelineBalance.balancedIntermediate(256, new PipelineBalance.StepBusy(17_300, 9_440, 800)));
        // An expert side already heavier than attention shrinks the size.
        assertEquals(128, PipelineBalance.balancedIntermediate(256, new PipelineBalance.StepBusy(5_000, 10_000, 0)));
    }

    @Test
    void sizesAreMultiplesOf32WithinBounds() {
        int i = PipelineBalance.balancedIntermediate(256, new PipelineBalance.StepBusy(12_345, 6_789, 0));
        assertEquals(0, i % 32);
        assertEquals(64, PipelineBalance.balancedIntermediate(256, new PipelineBalance.StepBusy(100, 1_000_000, 0)));
        assertEquals(4096, PipelineBalance.balancedIntermediate(256, new PipelineBalance.StepBusy(1_000_000, 100, 0)));
        // Other work larger than the attention pod's whole busy time still leaves a positive size.
        assertTrue(PipelineBalance.balancedIntermediate(256, new PipelineBalance.StepBusy(1_000, 1_000, 5_000)) >= 64);
    }

    @Test
    void medianOfWindowsIsTakenPerFigure() {
        var busy = PipelineBalance.StepBusy.median(List.of(
                new PipelineBalance.StepBusy(17_000, 9_400, 50),
                new PipelineBalance.StepBusy(17_800, 14_700, 60),
                new PipelineBalance.StepBusy(16_900, 9_600, 40)));
        assertEquals(17_000, busy.attentionMicros());
        assertEquals(9_600, busy.expertFfnMicros());
        assertEquals(50, busy.expertOtherMicros());
    }

    @Test
    void aMeasurementWithoutBusyTimeIsAnError() {
        var e = assertThrows(IllegalArgumentException.class, () -> new PipelineBalance.StepBusy(0, 9_000, 0));
        assertTrue(e.getMessage().contains("no busy time measured"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new PipelineBalance.StepBusy(1_000, Double.NaN, 0));
    }

    @Test
    void aSecondMeasurementWithinFivePercentKeepsTheSize() {
        var first = new PipelineBalance.StepBusy(14_200, 11_800, 100);
        assertEquals(320, PipelineBalance.refinedIntermediate(256, first, 320, new PipelineBalance.StepBusy(14_000, 13_500, 100)));
    }

    @Test
    void aSecondStepFollowsTheLineThroughBothMeasurements() {
        // FFN 9,000 µs at 256 and 12,000 at 384: not proportional, a line of slope 23.4375 µs per
        // unit and intercept 3,000 µs; the attention pod's 15,000 µs need I = 12,000 / 23.4375 = 512.
        var first = new PipelineBalance.StepBusy(15_000, 9_000, 0);
        var second = new PipelineBalance.StepBusy(15_000, 12_000, 0);
        assertEquals(512, PipelineBalance.refinedIntermediate(256, first, 384, second));
    }

    @Test
    void aSecondStepIsProportionalWhereTheLineDoesNotRiseAndAtMostTwofold() {
        // The Zen 5 run: 11.8 ms at 256 and 11.4 ms at 320 (noise, the line falls): proportional from 320.
        var first = new PipelineBalance.StepBusy(14_183, 11_830, 112);
        var second = new PipelineBalance.StepBusy(14_900, 11_400, 100);
        assertEquals(416, PipelineBalance.refinedIntermediate(256, first, 320, second));
        // A second window three times off moves at most a factor of two.
        var off = new PipelineBalance.StepBusy(30_000, 5_000, 0);
        assertEquals(640, PipelineBalance.refinedIntermediate(256, first, 320, off));
        var under = new PipelineBalance.StepBusy(5_000, 30_000, 0);
        assertEquals(160, PipelineBalance.refinedIntermediate(256, first, 320, under));
    }
}
