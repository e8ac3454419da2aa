package io.shuttle.engine;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The scheduler alone, driven with fake sampled tokens: no model needed. */
class SchedulerTest {

    static final class Recorder implements RequestListener {
        final List<Integer> tokens = new ArrayList<>();
        FinishReason finished;
        Exception error;

        @Override
        public void onToken(int token) {
            tokens.add(token);
        }

        @Override
        public void onFinish(FinishReason reason) {
            finished = reason;
        }

        @Override
        public void onError(Exception e) {
            error = e;
        }
    }

    static Request request(String id, int promptLen, int maxTokens, Recorder r) {
        int[] prompt = new int[promptLen];
        java.util.Arrays.fill(prompt, 7);
        return new Request(id, prompt, SamplingParams.greedy(maxTokens, true), r);
    }

    /** Runs one step, "sampling" token 5 for every logits row. */
    static StepPlan step(Scheduler s) {
        StepPlan plan = s.schedule();
        int rows = (int) plan.chunks().stream().filter(c -> c.logitsRow() >= 0).count();
        int[] sampled = new int[rows];
        java.util.Arrays.fill(sampled, 5);
        s.update(plan, sampled);
        return plan;
    }

    @Test
    void longPromptsArePrefilledInChunksMixedWithDecodeTokens() {
        BlockAllocator blocks = new BlockAllocator(64, 4);
        Scheduler s = new Scheduler(new SchedulerConfig(8, 4, 16, 1, 256), blocks, 100, 2);
        Recorder shortOne = new Recorder();
        Recorder longOne = new Recorder();
        s.submit(request("short", 3, 10, shortOne));
        step(s);                                       // prefill of "short" (3 rows)
        s.submit(request("long", 20, 2, longOne));
        StepPlan p = step(s);                          // 1 decode row for "short" + 7 prefill rows of "long"
        assertEquals(8, p.batch().numTokens());
        assertEquals(1, p.chunks().get(0).tokens());
        assertEquals(7, p.chunks().get(1).tokens());
        assertEquals(-1, p.chunks().get(1).logitsRow(), "an unfinished prefill chunk wants no logits");
        step(s);
        step(s);                                       // 7 + 6 more rows: "long" reaches its end
        assertEquals(1, longOne.tokens.size());
        while (s.hasWork()) {
            step(s);
        }
        assertEquals(FinishReason.LENGTH, longOne.finished);
        assertEquals(10, shortOne.tokens.size());
        assertEquals(blocks.totalBlocks(), blocks.freeBlocks(), "every block returned");
    }

    @Test
    void runningOutOfBlocksPreemptsTheNewestAndRecomputesIt() {
        // 6 blocks of 4 tokens; two sequences of 8-token prompts growing to 16 tokens cannot both fit.
        BlockAllocator blocks = new BlockAllocator(6, 4);
        Scheduler s = new Scheduler(new SchedulerConfig(32, 4, 16, 1, 64), blocks, 100, 2);
        Recorder a = new Recorder();
        Recorder b = new Recorder();
        s.submit(request("a", 8, 8, a));
        s.submit(request("b", 8, 8, b));
        boolean sawPreemption = false;
        for (int i = 0; i < 100 && s.hasWork(); i++) {
            StepPlan p = step(s);
            sawPreemption |= p.chunks().stream().anyMatch(c -> c.sequence().id().equals("b") && c.tokens() > 8);
        }
        assertTrue(sawPreemption, "b was recomputed from its prompt plus generated tokens");
        assertEquals(8, a.tokens.size());
        assertEquals(8, b.tokens.size());
        assertEquals(6, blocks.freeBlocks());
    }

    @Test
    void theQueueIsBoundedAndBadRequestsAreRefused() {
        Scheduler s = new Scheduler(new SchedulerConfig(8, 2, 2, 1, 32), new BlockAllocator(8, 4), 100, 2);
        s.submit(request("1", 2, 2, new Recorder()));
        s.submit(request("2", 2, 2, new Recorder()));
        assertThrows(Scheduler.QueueFullException.class, () -> s.submit(request("3", 2, 2, new Recorder())));
        var tooLong = assertThrows(IllegalArgumentException.class, () -> s.submit(request("x", 30, 5, new Recorder())));
        assertTrue(tooLong.getMessage().contains("maximum sequence length"));
        var vocab = assertThrows(IllegalArgumentException.class,
                () -> s.submit(new Request("v", new int[] {100}, SamplingParams.greedy(1, true), new Recorder())));
        assertTrue(vocab.getMessage().contains("outside the vocabulary"));
    }

    @Test
    void theBoundCountsRequestsAlreadyMovedToTheWaitingLine() {
        // maxRunning 1, maxWaiting 2: after a step drains the queue into the waiting line, the
        // line is still full; submissions must keep failing until a sequence is admitted.
        Scheduler s = new Scheduler(new SchedulerConfig(64, 1, 2, 1, 32), new BlockAllocator(16, 4), 100, 2);
        s.submit(request("run", 2, 10, new Recorder()));
        step(s);
        s.submit(request("w1", 2, 10, new Recorder()));
        s.submit(request("w2", 2, 10, new Recorder()));
        step(s); // drains w1, w2 into the waiting line; "run" still holds the only slot
        assertEquals(2, s.waitingCount());
        assertThrows(Scheduler.QueueFullException.class, () -> s.submit(request("w3", 2, 10, new Recorder())));
        for (int i = 0; i < 20; i++) {
            step(s);
        }
        s.submit(request("later", 2, 2, new Recorder())); // room again once the line moved
    }

    @Test
    void abortsOfFinishedRequestsDoNotAccumulate() {
        Scheduler s = new Scheduler(new SchedulerConfig(8, 2, 4, 1, 32), new BlockAllocator(8, 4), 100, 2);
        for (int i = 0; i < 50; i++) {
            s.submit(request("r" + i, 2, 1, new Recorder()));
            step(s);
            s.abort("r" + i); // already finished: a client cancelling as the answer ends
        }
        step(s);
        step(s);
        assertEquals(0, s.pendingAborts(), "ids of finished requests are forgotten");
    }

    @Test
    void abortedRequestsEndWithAnErrorAndFreeTheirBlocks() {
        BlockAllocator blocks = new BlockAllocator(8, 4);
        Scheduler s = new Scheduler(new SchedulerConfig(8, 2, 4, 1, 32), blocks, 100, 2);
        Recorder r = new Recorder();
        s.submit(request("x", 5, 10, r));
        step(s);
        s.abort("x");
        step(s);
        assertTrue(r.error != null && r.error.getMessage().contains("aborted"));
        assertEquals(8, blocks.freeBlocks());
        assertTrue(!s.hasWork());
    }

    /** Runs lane {@code lane} of step {@code step}, "sampling" token 5 for every logits row. */
    static StepPlan step(Scheduler s, int lane, long step) {
        StepPlan plan = s.schedule(lane, step);
        int rows = (int) plan.chunks().stream().filter(c -> c.logitsRow() >= 0).count();
        int[] sampled = new int[rows];
        java.util.Arrays.fill(sampled, 5);
        s.update(plan, sampled);
        return plan;
    }

    @Test
    void newcomersAreSharedOutOverTheLanesAndTheLanesAreEvenedOut() {
        Scheduler s = new Scheduler(new SchedulerConfig(24, 12, 16, 3, 64), new BlockAllocator(64, 4), 100, 2);
        for (int i = 0; i < 7; i++) {
            s.submit(request("r" + i, 3, 4, new Recorder()));
        }
        // Lane budgets are 8 tokens and 4 sequences; shares of 7 over 3 lanes are 3, 3, 1.
        List<List<String>> first = new ArrayList<>();
        for (int lane = 0; lane < 3; lane++) {
            StepPlan p = step(s, lane, 0);
            assertEquals(lane, p.lane());
            first.add(p.chunks().stream().map(c -> c.sequence().id()).toList());
        }
        assertEquals(List.of(List.of("r0", "r1", "r2"), List.of("r3", "r4", "r5"), List.of("r6")), first,
                "shares of 7 over 3 lanes are 3, 3 and 1, in arrival order; a prompt that does not fit is chunked");
        // Nothing waits now: lane 0, two sequences above lane 2, hands its newest (r2) over once
        // its step is applied; the others keep theirs.
        List<List<String>> second = new ArrayList<>();
        for (int lane = 0; lane < 3; lane++) {
            StepPlan p = step(s, lane, 1);
            second.add(p.chunks().stream().map(c -> c.sequence().id()).toList());
            assertTrue(p.batch().numTokens() <= 8);
        }
        assertEquals(List.of(List.of("r0", "r1", "r2"), List.of("r3", "r4", "r5"), List.of("r2", "r6")), second);
        assertEquals(1, s.laneMoves());
        List<String> third = new ArrayList<>();
        for (int lane = 0; lane < 3; lane++) {
            List<String> ids = step(s, lane, 2).chunks().stream().map(c -> c.sequence().id()).toList();
            assertTrue(ids.size() == 2 || ids.size() == 3, "lanes of 2, 3 and 2 sequences: " + ids);
            third.addAll(ids);
        }
        assertEquals(7, third.size(), "every request runs in exactly one lane: " + third);
        assertEquals(7, new java.util.HashSet<>(third).size(), "every request runs in exactly one lane: " + third);
        assertEquals(1, s.laneMoves(), "even lanes stay as they are");
    }

    /**
     * In the pipeline's order (each lane's next step is scheduled right after its results are
     * applied, while the later lanes are still in flight), sequences that finish early in one lane
     * leave it light; the fuller lane hands sequences over at its next update, so the two
     * micro-batches stay within one sequence of each other and every request still gets all its
     * tokens, none twice.
     */
    @Test
    void aLaneThatFinishedEarlyIsRefilledFromTheFullerOneInPipelineOrder() {
        BlockAllocator blocks = new BlockAllocator(64, 4);
        Scheduler s = new Scheduler(new SchedulerConfig(32, 16, 16, 2, 64), blocks, 100, 2);
        int free = blocks.freeBlocks();
        List<Recorder> recorders = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            Recorder r = new Recorder();
            recorders.add(r);
            // Lane 0 gets r0-r3, lane 1 r4-r7; r0-r2 stop after 2 tokens, the rest run for 12.
            s.submit(request("r" + i, 2, i < 3 ? 2 : 12, r));
        }
        StepPlan[] inFlight = {s.schedule(0, 0), s.schedule(1, 0)};
        assertEquals(4, inFlight[0].chunks().size());
        assertEquals(4, inFlight[1].chunks().size());
        int maxGap = 0;
        for (long step = 0; s.hasWork(); step++) {
            for (int lane = 0; lane < 2; lane++) {
                StepPlan p = inFlight[lane];
                int rows = (int) p.chunks().stream().filter(c -> c.logitsRow() >= 0).count();
                int[] sampled = new int[rows];
                java.util.Arrays.fill(sampled, 5);
                s.update(p, sampled);
                inFlight[lane] = s.schedule(lane, step + 1);
                for (StepPlan.Chunk c : inFlight[lane].chunks()) {
                    assertTrue(inFlight[1 - lane].chunks().stream().noneMatch(o -> o.sequence() == c.sequence()),
                            "a sequence in two lanes' steps at once: " + c.sequence().id());
                }
            }
            if (step >= 3 && s.hasWork()) {
                maxGap = Math.max(maxGap, Math.abs(inFlight[0].chunks().size() - inFlight[1].chunks().size()));
            }
            assertTrue(step < 40, "the requests did not finish");
        }
        assertTrue(s.laneMoves() >= 1, "r0-r2 finished in lane 0, so lane 1 must have handed sequences over");
        assertTrue(maxGap <= 1, "lanes kept within one sequence of each other once r0-r2 had finished, gap " + maxGap);
        for (int i = 0; i < 8; i++) {
            Recorder r = recorders.get(i);
            assertEquals(i < 3 ? 2 : 12, r.tokens.size(), "r" + i + " got every token once");
            assertEquals(FinishReason.LENGTH, r.finished);
        }
        assertEquals(free, blocks.freeBlocks(), "no KV block leaked");
    }

    @Test
    void lanesAreNotEvenedOutWhileRequestsWait() {
        // Newcomers fill the lighter lane; moving running sequences meanwhile would only churn.
        Scheduler s = new Scheduler(new SchedulerConfig(8, 4, 16, 2, 64), new BlockAllocator(64, 4), 100, 2);
        for (int i = 0; i < 6; i++) {
            s.submit(request("r" + i, 2, 6, new Recorder()));
        }
        StepPlan zero = step(s, 0, 0); // takes its lane's limit of 2 while r2-r5 wait
        assertEquals(2, zero.chunks().size());
        step(s, 0, 1);
        assertEquals(0, s.laneMoves(), "lane 1 is empty but requests wait for it");
    }

    @Test
    void aLaneCannotBeScheduledAgainBeforeItsResultsAreApplied() {
        Scheduler s = new Scheduler(new SchedulerConfig(16, 4, 4, 2, 64), new BlockAllocator(16, 4), 100, 2);
        s.submit(request("a", 3, 4, new Recorder()));
        StepPlan p = s.schedule(0, 0);
        assertThrows(IllegalStateException.class, () -> s.schedule(0, 1));
        s.schedule(1, 0); // the other lane is independent
        s.update(p, new int[] {5});
        assertThrows(IllegalStateException.class, () -> s.update(p, new int[] {5}), "applied twice");
        assertEquals(1, s.schedule(0, 1).chunks().size());
        assertThrows(IllegalStateException.class, s::schedule, "a laned scheduler has no single-lane schedule()");
    }

    @Test
    void anAbortWaitsForItsOwnLaneSoNoBlockMovesUnderAStepInFlight() {
        BlockAllocator blocks = new BlockAllocator(16, 4);
        Scheduler s = new Scheduler(new SchedulerConfig(16, 4, 4, 2, 64), blocks, 100, 2);
        Recorder a = new Recorder();
        Recorder b = new Recorder();
        s.submit(request("a", 3, 8, a));
        s.submit(request("b", 3, 8, b));
        step(s, 0, 0);
        StepPlan laneOne = s.schedule(1, 0); // "b" in flight in lane 1
        assertEquals("b", laneOne.chunks().get(0).sequence().id());
        int free = blocks.freeBlocks();
        s.abort("b");
        step(s, 0, 1); // lane 0's next step must not touch lane 1's sequence
        assertEquals(null, b.error);
        assertEquals(free, blocks.freeBlocks());
        s.update(laneOne, new int[] {5});
        s.schedule(1, 1); // lane 1's own turn ends it
        assertTrue(b.error != null && b.error.getMessage().contains("aborted"));
        assertEquals(free + 1, blocks.freeBlocks());
        assertEquals(null, a.error);
        assertEquals(0, s.pendingAborts());
    }

    @Test
    void aGroupJoinsTheBatchAtOneStepBoundaryOrNotAtAll() {
        BlockAllocator blocks = new BlockAllocator(64, 4);
        Scheduler s = new Scheduler(new SchedulerConfig(64, 8, 3, 1, 256), blocks, 100, 2);
        List<Recorder> recorders = List.of(new Recorder(), new Recorder(), new Recorder());
        s.submitAll(List.of(request("a", 4, 2, recorders.get(0)), request("b", 5, 2, recorders.get(1)),
                request("c", 6, 2, recorders.get(2))));
        StepPlan first = step(s);
        assertEquals(3, first.chunks().size(), "all three prompts are prefilled in the first step");

        // All or none: a group larger than the free queue space queues nothing...
        Scheduler small = new Scheduler(new SchedulerConfig(64, 8, 2, 1, 256), new BlockAllocator(64, 4), 100, 2);
        Scheduler.QueueFullException full = assertThrows(Scheduler.QueueFullException.class, () -> small.submitAll(
                List.of(request("x", 3, 2, new Recorder()), request("y", 3, 2, new Recorder()), request("z", 3, 2, new Recorder()))));
        assertTrue(full.getMessage().contains("cannot take 3"), full.getMessage());
        assertEquals(0, small.waitingCount());
        // ...and so does a group with one bad request, which is named.
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> small.submitAll(
                List.of(request("ok", 3, 2, new Recorder()),
                        new Request("out-of-vocab", new int[] {150}, SamplingParams.greedy(2, true), new Recorder()))));
        assertTrue(bad.getMessage().startsWith("request 1 of 2"), bad.getMessage());
        assertEquals(0, small.waitingCount());
        assertTrue(!small.hasWork());
    }
}
