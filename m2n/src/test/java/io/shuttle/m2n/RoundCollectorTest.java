package io.shuttle.m2n;

import org.junit.jupiter.api.Test;

import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** When a node's progress thread may poll for a reply: only while a round opened recently waits. */
class RoundCollectorTest {

    @Test
    void aRoundOpenedLongAgoIsNotAReasonToPoll() {
        RoundCollector c = new RoundCollector(TimeUnit.SECONDS.toNanos(10));
        long window = TimeUnit.MILLISECONDS.toNanos(2);
        assertFalse(c.collectingRecently(System.nanoTime(), window), "nothing collected");
        long before = System.nanoTime();
        c.collectLatest(io.shuttle.m2n.wire.MessageKind.DISPATCH, 0, 0, Set.of(1), before + TimeUnit.SECONDS.toNanos(30),
                new CompletableFuture<>(), Set.of());
        assertTrue(c.collecting());
        assertTrue(c.collectingRecently(before, window), "just opened: a reply is due");
        // An idle deployment: the round has waited past the window, so the thread may block.
        assertFalse(c.collectingRecently(System.nanoTime() + window, window));
        assertTrue(c.collecting(), "still collected all the same");
    }
}
