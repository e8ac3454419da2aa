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
}
