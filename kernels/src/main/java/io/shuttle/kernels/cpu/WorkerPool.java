package io.shuttle.kernels.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Persistent worker threads for data-parallel kernels, built for many short jobs: a decode step
 * of a small model issues over a hundred operations of tens of microseconds each, so dispatch
 * must cost about a microsecond, not the tens an executor's queue and futures cost.
 *
 * <p>A job is cut into shares ({@code run(share, shares)}, each a static part of the work).
 * {@link #run} publishes the job by bumping a generation; then the calling thread and every
 * worker claim shares one at a time from a shared counter until none are left, and the caller
 * returns when every claimed share is done. Claiming instead of assigning shares to threads is
 * what keeps a loaded machine from stalling every op: on a machine shared with other processes a
 * worker is often not running when a job is published, and with fixed assignment the caller
 * would wait for the scheduler to run that worker (a time slice, milliseconds) once per op; here
 * the caller simply takes the worker's shares. A share runs exactly once, on one thread, so a
 * job may index per-share scratch by the share number when it uses at most {@link #size()}
 * shares.
 *
 * <p>Workers spin for {@link #SPIN_NANOS} after each job before parking, so back-to-back jobs
 * never pay a wake-up and an idle pool costs no CPU. No queue, no allocation per dispatch. One
 * job runs at a time; concurrent callers are serialised.
 */
final class WorkerPool implements AutoCloseable {

    /** A data-parallel job: share {@code share} of {@code shares} does its static part of the work. */
    interface Job {
        void run(int share, int shares);
    }

    private static final long SPIN_NANOS = 50_000;
    private static final long WAIT_SLICE_NANOS = 200_000;
    static final int MAX_SHARES = 0xFFFF;
    /** A job that has not finished after this long is reported instead of waited for forever. */
    private static final long STUCK_NANOS = 60_000_000_000L;

    private final int size;
    private final Thread[] threads;
    /** Per worker: 1 while it is (about to be) parked; volatile, so dispatch and park cannot miss each other. */
    private final AtomicIntegerArray parked;
    private final ReentrantLock dispatch = new ReentrantLock();
    /**
     * Generation of the current job (bits 32–63), its share count (16–31) and the next unclaimed
     * share (0–15), in one word so that one CAS both claims a share and proves it belongs to the
     * current job: the share count must not be read separately (the next job's count may already
     * be written while the old job's word is still current).
     */
    private final AtomicLong state = new AtomicLong();
    /** Shares of the current job that have finished. */
    private final AtomicInteger done = new AtomicInteger();
    private volatile Job job;
    private volatile Thread waiter;
    private volatile boolean waiterParked;
    private volatile Throwable failure;
    private volatile boolean closed;

    /** @param size total parallelism including the calling thread (size − 1 threads are started) */
    WorkerPool(int size, String namePrefix) {
        if (size < 1) {
            throw new IllegalArgumentException("thread count must be at least 1, got " + size);
        }
        this.size = size;
        this.threads = new Thread[size - 1];
        this.parked = new AtomicIntegerArray(Math.max(1, size - 1));
        for (int i = 0; i < threads.length; i++) {
            int index = i;
            threads[i] = Thread.ofPlatform().daemon().name(namePrefix + (i + 1)).unstarted(() -> workerLoop(index));
            threads[i].start();
        }
    }

    int size() {
        return size;
    }

    /** Runs shares {@code 0..size()-1} of {@code j} (one per thread when all are running). */
    void run(Job j) {
        run(j, size);
    }

    /** Runs shares {@code 0..shares-1} of {@code j}, each exactly once, and returns when all are done. */
    void run(Job j, int shares) {
        if (shares < 1 || shares > MAX_SHARES) {
            throw new IllegalArgumentException("a job needs 1 to " + MAX_SHARES + " shares, got " + shares);
        }
        if (size == 1 || shares == 1) {
            if (closed) {
                throw new IllegalStateException("the CPU backend's worker pool is closed");
            }
            for (int s = 0; s < shares; s++) {
                j.run(s, shares);
            }
            return;
        }
        dispatch.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the CPU backend's worker pool is closed");
            }
            failure = null;
            job = j;
            waiter = Thread.currentThread();
            done.set(0);
            long generation = (state.get() >>> 32) + 1;
            state.set(generation << 32 | (long) shares << 16); // volatile write: publishes job and done
            for (int i = 0; i < threads.length; i++) {
                if (parked.get(i) != 0) {
                    LockSupport.unpark(threads[i]);
                }
            }
            claimShares(generation);
            awaitDone(shares);
            job = null;
            Throwable f = failure;
            if (f instanceof RuntimeException re) {
                throw re;
            } else if (f instanceof Error e) {
                throw e;
            } else if (f != null) {
                throw new IllegalStateException("CPU kernel failed", f);
            }
        } finally {
            dispatch.unlock();
        }
    }

    /**
     * Claims and runs shares of generation {@code generation} until none are left. A successful
     * claim proves the word was unchanged since it was read, i.e. this job still had that share
     * unclaimed, so the job read in between is this job's (the next job is only written after
     * every share of this one is done).
     */
    private void claimShares(long generation) {
        while (true) {
            long s = state.get();
            if (s >>> 32 != generation) {
                return;
            }
            int share = (int) (s & 0xFFFF);
            int shares = (int) (s >>> 16 & 0xFFFF);
            if (share >= shares) {
                return;
            }
            Job j = job;
            if (!state.compareAndSet(s, s + 1)) {
                continue;
            }
            try {
                j.run(share, shares);
            } catch (Throwable t) {
                failure = t;
            }
            if (done.incrementAndGet() == shares && waiterParked) {
                LockSupport.unpark(waiter);
            }
        }
    }

    private void awaitDone(int shares) {
        long start = System.nanoTime();
        long deadline = start + SPIN_NANOS;
        int spins = 0;
        while (done.get() != shares) {
            if ((++spins & 63) != 0 || System.nanoTime() < deadline) {
                Thread.onSpinWait();
                continue;
            }
            if (System.nanoTime() - start > STUCK_NANOS) {
                long s = state.get();
                throw new IllegalStateException("CPU worker pool: a job of " + shares + " shares has waited "
                        + STUCK_NANOS / 1_000_000_000 + " s with " + done.get() + " done (generation " + (s >>> 32)
                        + ", next share " + (s & 0xFFFF) + "); a kernel is stuck");
            }
            waiterParked = true;
            // The timeout bounds the cost of any missed wake-up; a live worker always finishes.
            if (done.get() != shares) {
                LockSupport.parkNanos(this, WAIT_SLICE_NANOS);
            }
            waiterParked = false;
        }
    }

    private void workerLoop(int index) {
        long seen = 0;
        while (true) {
            seen = awaitGeneration(index, seen);
            if (closed) {
                return;
            }
            claimShares(seen);
        }
    }

    private long awaitGeneration(int index, long seen) {
        long deadline = System.nanoTime() + SPIN_NANOS;
        int spins = 0;
        long g;
        while ((g = state.get() >>> 32) == seen && !closed) {
            if ((++spins & 63) != 0 || System.nanoTime() < deadline) {
                Thread.onSpinWait();
                continue;
            }
            parked.set(index, 1);
            if (state.get() >>> 32 == seen && !closed) {
                LockSupport.park(this);
            }
            parked.set(index, 0);
        }
        return g;
    }

    @Override
    public void close() {
        closed = true;
        for (Thread t : threads) {
            LockSupport.unpark(t);
        }
        for (Thread t : threads) {
            try {
                if (!t.join(java.time.Duration.ofSeconds(10))) {
                    throw new IllegalStateException("worker " + t.getName() + " did not stop within 10 s");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
