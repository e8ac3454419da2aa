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
    private long admissions;
    private long steps;

    public Scheduler(SchedulerConfig config, BlockAllocator allocator, int vocabSize, int eosTokenId) {
        this.config = config;
        this.allocator = allocator;
        this.vocabSize = vocabSize;
        this.eosTokenId = eosTokenId;
        this.incoming = new ArrayBlockingQueue<>(Math.max(1, config.maxWaiting()));
        this.builder = new StepBatchBuilder(config.maxBatchTokens(), allocator.blockSize());
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

    /** Decides the next step. The plan may be empty when nothing can run (then call again later). */
    public StepPlan schedule() {
        drainIncoming();
        applyAborts();
        builder.reset();
        List<StepPlan.Chunk> chunks = new ArrayList<>();
        int logitRows = 0;
        List<Sequence> scheduledRunning = new ArrayList<>();
        // 1. Running sequences first, in admission order.
        for (int i = 0; i < running.size() && builder.capacityLeft() > 0; i++) {
            Sequence s = running.get(i);
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
        // 2. Admit waiting sequences while budgets and blocks allow; no preemption for newcomers.
        while (!waiting.isEmpty() && builder.capacityLeft() > 0 && running.size() < config.maxRunning()) {
            Sequence s = waiting.peekFirst();
            int take = Math.min(s.known() - s.computed(), builder.capacityLeft());
            if (!allocator.ensureCapacity(s.blocks, s.computed() + take)) {
                break; // head of line waits for blocks
            }
            waiting.pollFirst();
            running.add(s);
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
        StepBatch batch = builder.build();
        return new StepPlan(steps, batch, List.copyOf(chunks), split(batch.numTokens(), config.microBatches()));
    }

    /**
     * Applies a step's results: {@code sampled[r]} is the token chosen from logits row r.
     * Appends tokens, notifies listeners, finishes sequences and frees their blocks.
     */
    public void update(StepPlan plan, int[] sampled) {
        if (plan.step() != steps) {
            throw new IllegalStateException("update for step " + plan.step() + " but step " + steps + " is current");
        }
        steps++; // steps are numbered by execution: peers match rounds on this number
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
    }

    /** Ends every running and waiting request with {@code error} (e.g. the pipeline failed). */
    public void failAll(Exception error) {
        drainIncoming();
        List<Sequence> all = new ArrayList<>(running);
        all.addAll(waiting);
        running.clear();
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

    /** Fails the sequences of one step (their KV entries may be incomplete) and frees their blocks. */
    /**
     * The step's expert round failed but its sequences stay: nothing of it was committed (tokens
     * and positions advance only in {@link #update}), its KV blocks stay reserved, and the next
     * {@link #schedule} runs the same chunks again under a new step number. Rewriting the same KV
     * positions gives the same values, so a retried step is exactly the step that failed.
     */
    public void retryStep(StepPlan plan) {
        if (plan.step() == steps) {
            steps++; // the step was attempted: its number is used up on every peer
        }
    }

    public void failStep(StepPlan plan, Exception error) {
        if (plan.step() == steps) {
            steps++; // the step was attempted: its number is used up on every peer
        }
        for (StepPlan.Chunk c : plan.chunks()) {
            Sequence s = c.sequence();
            if (running.remove(s)) {
                allocator.release(s.blocks);
                s.request().listener().onError(error);
            }
        }
    }

    private boolean reserveOrPreempt(Sequence s, int take, List<Sequence> alreadyScheduled) {
        while (!allocator.ensureCapacity(s.blocks, s.computed() + take)) {
            Sequence victim = lastUnscheduled(alreadyScheduled);
            preempt(victim);
            if (victim == s) {
                return false;
            }
        }
        return true;
    }

    private Sequence lastUnscheduled(List<Sequence> alreadyScheduled) {
        for (int i = running.size() - 1; i >= 0; i--) {
            if (!alreadyScheduled.contains(running.get(i))) {
                return running.get(i);
            }
        }
        throw new IllegalStateException("no sequence left to preempt");
    }

    private void preempt(Sequence s) {
        running.remove(s);
        allocator.release(s.blocks);
        s.resetComputed();
        waiting.addFirst(s);
    }

    private void retire(Sequence s) {
        running.remove(s);
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

    private void applyAborts() {
        if (aborted.isEmpty()) {
            return;
        }
        for (Iterator<Sequence> it = running.iterator(); it.hasNext(); ) {
            Sequence s = it.next();
            if (aborted.remove(s.id())) {
                it.remove();
                allocator.release(s.blocks);
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
        // Ids of requests that had already ended (a client cancelling as its answer finished):
        // dropped after being seen unmatched twice, so the set stays bounded. Twice, because an
        // abort may race ahead of its own request's submission by a step.
        for (Iterator<String> it = aborted.iterator(); it.hasNext(); ) {
            String id = it.next();
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

    /** Splits n rows into m contiguous ranges whose sizes differ by at most one. */
    static int[] split(int n, int m) {
        int[] bounds = new int[m + 1];
        for (int i = 0; i <= m; i++) {
            bounds[i] = (int) ((long) n * i / m);
        }
        return bounds;
    }
}
