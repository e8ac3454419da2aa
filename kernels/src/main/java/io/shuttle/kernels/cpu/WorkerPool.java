package io.shuttle.kernels.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Persistent worker threads for data-parallel kernels, built for many short jobs: a decode step
 * of a small model issues hundreds of operations of tens of microseconds each, so dispatch must
 * cost about a microsecond, not the tens an executor's queue and futures cost.
 *
 * <p>{@link #run} publishes the job by bumping a volatile generation counter; workers that are
 * spinning see it within nanoseconds, parked ones are unparked. The calling thread runs share 0
 * itself and then waits for the others. Workers spin for {@link #SPIN_NANOS} after each job
 * before parking, so back-to-back jobs never pay a wake-up and an idle pool costs no CPU.
 * Each job partitions its own work statically from {@code (worker, workers)}; no queue, no
 * allocation per dispatch. One job runs at a time; concurrent callers are serialised.
 */
final class WorkerPool implements AutoCloseable {

    /** A data-parallel job: worker {@code worker} of {@code workers} does its static share. */
    interface Job {
        void run(int worker, int workers);
    }

    private static final long SPIN_NANOS = 50_000;
    private static final long WAIT_SLICE_NANOS = 200_000;

    private final int size;
    private final Thread[] threads;
    /** Per worker: 1 while it is (about to be) parked; volatile, so dispatch and park cannot miss each other. */
    private final AtomicIntegerArray parked;
    private final ReentrantLock dispatch = new ReentrantLock();
    private final AtomicInteger pending = new AtomicInteger();
    private volatile Job job;
    private volatile int generation;
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
        this.parked = new AtomicIntegerArray(size - 1);
        for (int i = 0; i < threads.length; i++) {
            int index = i + 1;
            threads[i] = Thread.ofPlatform().daemon().name(namePrefix + index).unstarted(() -> workerLoop(index));
            threads[i].start();
        }
    }

    int size() {
        return size;
    }

    /** Runs {@code j} on all workers (the caller is worker 0) and returns when every share is done. */
    void run(Job j) {
        if (size == 1) {
            j.run(0, 1);
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
            pending.set(size - 1);
            generation = generation + 1; // volatile write: publishes job and its fields
            for (int i = 0; i < threads.length; i++) {
                if (parkedFlag(i)) {
                    LockSupport.unpark(threads[i]);
                }
            }
            Throwable own = null;
            try {
                j.run(0, size);
            } catch (Throwable t) {
                own = t;
            }
            awaitWorkers();
            job = null;
            Throwable f = own != null ? own : failure;
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

    private boolean parkedFlag(int i) {
        return parked.get(i) != 0;
    }

    private void setParked(int i, boolean value) {
        parked.set(i, value ? 1 : 0);
    }

    private void awaitWorkers() {
        long deadline = System.nanoTime() + SPIN_NANOS;
        int spins = 0;
        while (pending.get() != 0) {
            if ((++spins & 63) != 0 || System.nanoTime() < deadline) {
                Thread.onSpinWait();
                continue;
            }
            waiterParked = true;
            // The timeout bounds the cost of any missed wake-up; a live worker always finishes.
            if (pending.get() != 0) {
                LockSupport.parkNanos(this, WAIT_SLICE_NANOS);
            }
            waiterParked = false;
        }
    }

    private void workerLoop(int index) {
        int seen = 0;
        while (true) {
            seen = awaitGeneration(index, seen);
            if (closed) {
                return;
            }
            try {
                job.run(index, size);
            } catch (Throwable t) {
                failure = t;
            }
            if (pending.decrementAndGet() == 0 && waiterParked) {
                LockSupport.unpark(waiter);
            }
        }
    }

    private int awaitGeneration(int index, int seen) {
        long deadline = System.nanoTime() + SPIN_NANOS;
        int spins = 0;
        int g;
        while ((g = generation) == seen && !closed) {
            if ((++spins & 63) != 0 || System.nanoTime() < deadline) {
                Thread.onSpinWait();
                continue;
            }
            setParked(index - 1, true);
            if (generation == seen && !closed) {
                LockSupport.park(this);
            }
            setParked(index - 1, false);
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
