package io.shuttle.engine;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Continuous batching. Requests arrive from any thread into a bounded queue and join at step
 * boundaries; each {@link #schedule()} assigns, under one token budget, the next chunk of every
 * running sequence first (decode tokens and unfinished prefill chunks), then admits waiting
 * requests in arrival order while budget and KV blocks last. Long prompts are prefilled in
 * chunks mixed with other sequences' decode tokens. When a running sequence needs a block and
 * none is free, the most recently admitted running sequence is preempted: its blocks are freed
 * and it is recomputed later from its known tokens (vLLM's recompute preemption).
 *
 * <p><b>Lanes.</b> With m micro-batches the scheduler keeps m lanes, and a sequence runs in
 * the lane it was admitted to until the lanes need evening out. Each lane is scheduled and its
 * results applied on its own ({@link #schedule(int, long)}, {@link #update}), so the pipeline can start lane 0's step s+1
 * while lane 1 still finishes step s: the micro-batches run across step boundaries and the
 * experts never wait for a whole step to end (MegaScale-Infer's ping-pong without the
 * per-step fill and drain). Each lane gets 1/m of the token budget and of the running limit;
 * newcomers join the lane with fewer sequences, and when nothing waits, a lane two sequences
 * fuller than the lightest hands sequences over ({@link #rebalance}), so the lanes stay even. Scheduling
 * a lane touches only that lane's sequences and the waiting line: another lane's sequences
 * may be in flight, and their KV blocks must not move under them.
 *
 * <p>{@link #submit} and {@link #abort} are thread-safe; everything else runs on the engine thread.
 */
public final class Scheduler {
    private final SchedulerConfig config;
    private final BlockAllocator allocator;
    private final int vocabSize;
    private final int eosTokenId;
    private final BlockingQueue<Request> incoming;
    /** Held while a {@link #submitAll} group is queued and while incoming is drained, so a group is never split. */
    private final java.util.concurrent.locks.ReentrantLock incomingGroups = new java.util.concurrent.locks.ReentrantLock();
    private final Set<String> aborted = ConcurrentHashMap.newKeySet();
    private final ArrayDeque<Sequence> waiting = new ArrayDeque<>();
    private final List<Sequence> running = new ArrayList<>();
    private final StepBatchBuilder builder;
    private final int lanes;
    private final int laneMaxRunning;
    private final int[] laneRunning;
    /** Each lane's plan whose results are not applied yet (null when none). */
    private final StepPlan[] inFlight;
    private long admissions;

    public Scheduler(SchedulerConfig config, BlockAllocator allocator, int vocabSize, int eosTokenId) {
        this.config = config;
        this.allocator = allocator;
        this.vocabSize = vocabSize;
        this.eosTokenId = eosTokenId;
        this.incoming = new ArrayBlockingQueue<>(Math.max(1, config.maxWaiting()));
        this.lanes = config.microBatches();
        this.laneMaxRunning = ceilDiv(config.maxRunning(), lanes);
        this.laneRunning = new int[lanes];
        this.inFlight = new StepPlan[lanes];
        this.builder = new StepBatchBuilder(laneTokens(config), allocator.blockSize());
    }

    /** Token rows one lane may schedule per step: the step budget split over the lanes. */
    public static int laneTokens(SchedulerConfig config) {
        return ceilDiv(config.maxBatchTokens(), config.microBatches());
    }

    /** Logits rows one lane may need per step: the running limit split over the lanes. */
    public static int laneLogitRows(SchedulerConfig config) {
        return ceilDiv(config.maxRunning(), config.microBatches());
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    public int lanes() {
        return lanes;
    }

    /** Thrown by {@link #submit} when the waiting queue is full: retry later or shed load. */
    public static final class QueueFullException extends RuntimeException {
        QueueFullException(String message) {
            super(message);
        }
    }

    /**
     * Queues a request; it joins the batch at the next step boundary. Invalid requests throw
     * {@link IllegalArgumentException}; a full queue throws {@link QueueFullException}.
     */
    public void submit(Request request) {
        validate(request);
        // The bound counts every submission not yet admitted, wherever it is (incoming or the
        // waiting line): a slot is reserved atomically here and given back on admission, abort or
        // failure, so concurrent submitters cannot overshoot it.
        for (int n = pending.get(); ; n = pending.get()) {
            if (n >= config.maxWaiting()) {
                throw new QueueFullException("the request queue is full (" + config.maxWaiting()
                        + " waiting); retry later");
            }
            if (pending.compareAndSet(n, n + 1)) {
                break;
            }
        }
        if (!incoming.offer(request)) {
            pending.decrementAndGet();
            throw new QueueFullException("the request queue is full (" + config.maxWaiting() + " waiting); retry later");
        }
    }

    /**
     * Queues several requests so that they reach the batch at the same step boundary, all or
     * none: every request is validated and the queue space for all of them is reserved before any
     * is queued. This is what a multi-prompt request means by "all prompts run as one batch";
     * submitted one by one, a step could start between two of them and split the batch.
     */
    public void submitAll(List<Request> requests) {
        if (requests.isEmpty()) {
            return;
        }
        for (int i = 0; i < requests.size(); i++) {
            try {
                validate(requests.get(i));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("request " + i + " of " + requests.size() + ": " + e.getMessage(), e);
            }
        }
        int n = requests.size();
        for (int queued = pending.get(); ; queued = pending.get()) {
            if (queued + n > config.maxWaiting()) {
                throw new QueueFullException("the request queue cannot take " + n + " more (" + queued + " of "
                        + config.maxWaiting() + " waiting); retry later or send fewer at once");
            }
            if (pending.compareAndSet(queued, queued + n)) {
                break;
            }
        }
        incomingGroups.lock(); // drainIncoming waits for the whole group
        try {
            for (Request r : requests) {
                if (!incoming.offer(r)) { // cannot happen: the slots are reserved and the queue holds maxWaiting
                    throw new IllegalStateException("the request queue refused a reserved slot");
                }
            }
        } finally {
            incomingGroups.unlock();
        }
    }

    /** Ends a request at the next step boundary; its listener gets {@code onError}. */
    public void abort(String requestId) {
        aborted.add(requestId);
    }

    /** Whether anything is queued or running. */
    public boolean hasWork() {
        return !incoming.isEmpty() || !waiting.isEmpty() || !running.isEmpty();
    }

    /** Blocks up to {@code timeoutMillis} until a request arrives; true if there is work. */
    public boolean awaitWork(long timeoutMillis) throws InterruptedException {
        if (hasWork()) {
            return true;
        }
        Request r = incoming.poll(timeoutMillis, TimeUnit.MILLISECONDS);
        if (r != null) {
            waiting.add(new Sequence(r, admissions++));
        }
        return hasWork();
    }

    public int runningCount() {
        return running.size();
    }

    /** Requests waiting for admission, new and preempted (safe to call from any thread). */
    public int waitingCount() {
        return pending.get() + requeued;
    }

    /** Decides the next step of a single-lane scheduler (no micro-batches); step numbers count up from 0. */
    public StepPlan schedule() {
        if (lanes != 1) {
            throw new IllegalStateException("this scheduler has " + lanes + " lanes: schedule each with schedule(lane, step)");
        }
        return schedule(0, nextStep++);
    }

    private long nextStep;

    /**
     * Decides lane {@code lane}'s part of step {@code step}. The plan may be empty when nothing
     * can run in the lane (then call again later). The previous plan of the lane must have been
     * applied ({@link #update}, {@link #retryStep} or {@link #failStep}) or be empty.
     */
    public StepPlan schedule(int lane, long step) {
        if (lane < 0 || lane >= lanes) {
            throw new IllegalArgumentException("lane " + lane + " of " + lanes);
        }
        StepPlan open = inFlight[lane];
        if (open != null && !open.chunks().isEmpty()) {
            throw new IllegalStateException("lane " + lane + " still has step " + open.step() + " in flight");
        }
        drainIncoming();
        applyAborts(lane);
        builder.reset();
        List<StepPlan.Chunk> chunks = new ArrayList<>();
        int logitRows = 0;
        List<Sequence> scheduledRunning = new ArrayList<>();
        // 1. The lane's running sequences first, in admission order.
        for (int i = 0; i < running.size() && builder.capacityLeft() > 0; i++) {
            Sequence s = running.get(i);
            if (s.lane != lane) {
                continue;
            }
            int take = Math.min(s.known() - s.computed(), builder.capacityLeft());
            if (!reserveOrPreempt(s, take, scheduledRunning)) {
                i--; // s itself was preempted and removed; the list shifted
                continue;
            }
            boolean wantsLogits = s.computed() + take == s.known();
            builder.add(s.tokens(), s.computed(), take, s.blocks, wantsLogits);
            chunks.add(new StepPlan.Chunk(s, take, wantsLogits ? logitRows++ : -1));
            scheduledRunning.add(s);
        }
        // 2. Admit waiting sequences while budgets and blocks allow and the lane has no more than
        //    its share of the sequences; no preemption for newcomers.
        int share = Math.min(laneMaxRunning, ceilDiv(running.size() + waiting.size(), lanes));
        while (!waiting.isEmpty() && builder.capacityLeft() > 0 && running.size() < config.maxRunning()
                && laneRunning[lane] < share) {
            Sequence s = waiting.peekFirst();
            int take = Math.min(s.known() - s.computed(), builder.capacityLeft());
            if (!allocator.ensureCapacity(s.blocks, s.computed() + take)) {
                break; // head of line waits for blocks
            }
            waiting.pollFirst();
            running.add(s);
            s.lane = lane;
            laneRunning[lane]++;
            if (!s.everAdmitted) {
                s.everAdmitted = true;
                pending.decrementAndGet();
            }
            boolean wantsLogits = s.computed() + take == s.known();
            builder.add(s.tokens(), s.computed(), take, s.blocks, wantsLogits);
            chunks.add(new StepPlan.Chunk(s, take, wantsLogits ? logitRows++ : -1));
        }
        int back = 0;
        for (Sequence w : waiting) {
            back += w.everAdmitted ? 1 : 0;
        }
        requeued = back;
        StepPlan plan = new StepPlan(step, lane, builder.build(), List.copyOf(chunks));
        inFlight[lane] = plan;
        return plan;
    }

    /**
     * Applies a step's results: {@code sampled[r]} is the token chosen from logits row r.
     * Appends tokens, notifies listeners, finishes sequences and frees their blocks.
     */
    public void update(StepPlan plan, int[] sampled) {
        close(plan, "update");
        for (StepPlan.Chunk c : plan.chunks()) {
            Sequence s = c.sequence();
            if (s.isFinished() || !running.contains(s)) {
                continue; // aborted or preempted in between
            }
            s.markComputed(c.tokens());
            if (c.logitsRow() < 0) {
                continue;
            }
            int token = sampled[c.logitsRow()];
            s.append(token);
            RequestListener listener = s.request().listener();
            listener.onToken(token);
            SamplingParams p = s.request().params();
            FinishReason reason = null;
            if (!p.ignoreEos() && token == eosTokenId) {
                reason = FinishReason.STOP;
            } else if (s.generatedCount() >= p.maxTokens() || s.known() >= config.maxModelLen()) {
                reason = FinishReason.LENGTH;
            }
            if (reason != null) {
                s.finish(reason);
                retire(s);
                listener.onFinish(reason);
            }
        }
        rebalance(plan.lane());
    }

    /**
     * Evens out the lanes after lane {@code from}'s step was applied: while it runs at least two
     * sequences more than the lightest lane, its newest sequence moves there. Lanes are filled
     * evenly at admission, but sequences finish at their own pace; without new arrivals to fill
     * the gaps, one micro-batch would keep shrinking while the other kept its size, and at m = 2
     * the pipeline would wait on the larger half every round. Only when nothing waits: newcomers
     * join the lighter lane anyway. A moved sequence is in no step in flight (its lane's step
     * was just applied, and no other lane ever held it). In the pipeline, a lane numbered above
     * {@code from} schedules its next step after this, so the sequence loses no step there; a lane
     * numbered below has begun its next step already and takes it one step later. Its KV blocks
     * stay where they are: the lanes share the cache.
     */
    private void rebalance(int from) {
        if (lanes == 1 || !waiting.isEmpty() || !incoming.isEmpty()) {
            return;
        }
        while (true) {
            int to = -1;
            for (int k = 0; k < lanes; k++) {
                // The lightest lane; among equals the first after 'from', which loses no step.
                int order = Math.floorMod(k - from - 1, lanes);
                if (k != from && (to < 0 || laneRunning[k] < laneRunning[to]
                        || (laneRunning[k] == laneRunning[to] && order < Math.floorMod(to - from - 1, lanes)))) {
                    to = k;
                }
            }
            if (laneRunning[from] - laneRunning[to] < 2 || laneRunning[to] >= laneMaxRunning) {
                return;
            }
            Sequence newest = null;
            for (int i = running.size() - 1; i >= 0 && newest == null; i--) {
                if (running.get(i).lane == from) {
                    newest = running.get(i);
                }
            }
            laneRunning[from]--;
            laneRunning[to]++;
            newest.lane = to;
            moves++;
        }
    }

    private volatile long moves; // written by the engine thread only; read by metrics scrapes

    /** Sequences moved between lanes to keep them even ({@link #rebalance}). */
    public long laneMoves() {
        return moves;
    }

    /** Ends every running and waiting request with {@code error} (e.g. the pipeline failed). */
    public void failAll(Exception error) {
        drainIncoming();
        List<Sequence> all = new ArrayList<>(running);
        all.addAll(waiting);
        running.clear();
        java.util.Arrays.fill(laneRunning, 0);
        java.util.Arrays.fill(inFlight, null);
        for (Sequence w : waiting) {
            if (!w.everAdmitted) {
                pending.decrementAndGet();
            }
        }
        waiting.clear();
        requeued = 0;
        for (Sequence s : all) {
            allocator.release(s.blocks);
            s.request().listener().onError(error);
        }
    }

    /**
     * The step's expert round failed but its sequences stay: nothing of it was committed (tokens
     * and positions advance only in {@link #update}), its KV blocks stay reserved, and the next
     * {@link #schedule} runs the same chunks again under a new step number. Rewriting the same KV
     * positions gives the same values, so a retried step is exactly the step that failed.
     */
    public void retryStep(StepPlan plan) {
        close(plan, "retry");
    }

    /** Fails the sequences of one lane's step (their KV entries may be incomplete) and frees their blocks. */
    public void failStep(StepPlan plan, Exception error) {
        close(plan, "fail");
        for (StepPlan.Chunk c : plan.chunks()) {
            Sequence s = c.sequence();
            if (running.contains(s)) {
                retire(s);
                s.request().listener().onError(error);
            }
        }
    }

    /** Marks the lane's plan as applied; it must be the plan the lane has in flight. */
    private void close(StepPlan plan, String what) {
        if (inFlight[plan.lane()] != plan) {
            throw new IllegalStateException(what + " of step " + plan.step() + " lane " + plan.lane()
                    + ", which is not the lane's step in flight");
        }
        inFlight[plan.lane()] = null;
    }

    private boolean reserveOrPreempt(Sequence s, int take, List<Sequence> alreadyScheduled) {
        while (!allocator.ensureCapacity(s.blocks, s.computed() + take)) {
            Sequence victim = lastUnscheduled(s, alreadyScheduled);
            preempt(victim);
            if (victim == s) {
                return false;
            }
        }
        return true;
    }

    /** The newest running sequence of {@code s}'s lane not yet scheduled in this step (other lanes' may be in flight). */
    private Sequence lastUnscheduled(Sequence s, List<Sequence> alreadyScheduled) {
        for (int i = running.size() - 1; i >= 0; i--) {
            Sequence r = running.get(i);
            if (r.lane == s.lane && !alreadyScheduled.contains(r)) {
                return r;
            }
        }
        throw new IllegalStateException("no sequence left to preempt");
    }

    private void preempt(Sequence s) {
        retire(s);
        s.resetComputed();
        waiting.addFirst(s);
    }

    private void retire(Sequence s) {
        running.remove(s);
        laneRunning[s.lane]--;
        s.lane = -1;
        allocator.release(s.blocks);
    }

    private void drainIncoming() {
        incomingGroups.lock();
        try {
            for (Request r; (r = incoming.poll()) != null; ) {
                waiting.add(new Sequence(r, admissions++));
            }
        } finally {
            incomingGroups.unlock();
        }
    }

    /** Ends aborted requests of {@code lane} and of the waiting line; other lanes' wait for their own turn. */
    private void applyAborts(int lane) {
        if (aborted.isEmpty()) {
            return;
        }
        for (Sequence s : List.copyOf(running)) {
            if (s.lane == lane && aborted.remove(s.id())) {
                retire(s);
                s.request().listener().onError(new IllegalStateException("request " + s.id() + " was aborted"));
            }
        }
        for (Iterator<Sequence> it = waiting.iterator(); it.hasNext(); ) {
            Sequence s = it.next();
            if (aborted.remove(s.id())) {
                it.remove();
                if (!s.everAdmitted) {
                    pending.decrementAndGet();
                }
                allocator.release(s.blocks);
                s.request().listener().onError(new IllegalStateException("request " + s.id() + " was aborted"));
            }
        }
        if (lane != lanes - 1 || aborted.isEmpty()) {
            return;
        }
        // Once per step (at the last lane), ids that match no request at all, e.g. a client
        // cancelling as its answer finished, are dropped after being seen unmatched twice, so the
        // set stays bounded. Twice, because an abort may race ahead of its own request's
        // submission by a step.
        Set<String> known = new java.util.HashSet<>();
        running.forEach(s -> known.add(s.id()));
        for (Iterator<String> it = aborted.iterator(); it.hasNext(); ) {
            String id = it.next();
            if (known.contains(id)) {
                continue;
            }
            if (!staleAborts.add(id)) {
                it.remove();
                staleAborts.remove(id);
            }
        }
        staleAborts.retainAll(aborted);
    }

    /** Abort requests not matched by the last {@link #applyAborts}. Engine thread only. */
    private final java.util.Set<String> staleAborts = new java.util.HashSet<>();

    /** Submissions not yet admitted (incoming plus never-admitted waiting ones): the bounded part. */
    private final java.util.concurrent.atomic.AtomicInteger pending = new java.util.concurrent.atomic.AtomicInteger();
    /** Preempted sequences back in the waiting line, as last counted by the engine thread. */
    private volatile int requeued;

    /** Outstanding abort ids (tests: the set must not grow with finished requests). */
    int pendingAborts() {
        return aborted.size();
    }

    private void validate(Request r) {
        for (int t : r.prompt()) {
            if (t < 0 || t >= vocabSize) {
                throw new IllegalArgumentException("request " + r.id() + ": token id " + t
                        + " is outside the vocabulary 0.." + (vocabSize - 1));
            }
        }
        int total = r.prompt().length + r.params().maxTokens();
        if (total > config.maxModelLen()) {
            throw new IllegalArgumentException("request " + r.id() + ": the prompt has " + r.prompt().length
                    + " tokens; with " + r.params().maxTokens() + " new tokens it exceeds the maximum sequence length "
                    + config.maxModelLen() + "; shorten the prompt or lower max tokens");
        }
        if (allocator.blocksFor(total) > allocator.totalBlocks()) {
            throw new IllegalArgumentException("request " + r.id() + " needs " + allocator.blocksFor(total)
                    + " KV blocks but the cache has only " + allocator.totalBlocks());
        }
    }

}
