package io.shuttle.kernels.cuda;

import jcuda.driver.CUcontext;
import jcuda.driver.CUevent;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

import java.time.Duration;
import java.util.concurrent.TimeoutException;

/**
 * A point in the backend's stream: everything enqueued before {@link CudaBackend#recordEvent()}
 * is done when this event completes. This is what a consumer such as M2N needs to send a device
 * buffer without a host synchronisation on the hot path: it polls {@link #isComplete()} from its
 * progress loop (or makes its own CUDA stream wait on {@link #handle()}) and posts the send once
 * the producer's kernels have finished. Close it when done.
 */
public final class CudaEvent implements AutoCloseable {
    private final CUevent event;
    private final CUcontext context;
    private boolean closed;

    CudaEvent(CUevent event, CUcontext context) {
        this.event = event;
        this.context = context;
    }

    /** The JCuda handle, for {@code cuStreamWaitEvent} on another stream of the same context. */
    public CUevent handle() {
        return event;
    }

    /** Non-blocking: true once all work before the event has finished. */
    public synchronized boolean isComplete() {
        requireOpen();
        CudaException.check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
        int r = JCudaDriver.cuEventQuery(event);
        if (r == CUresult.CUDA_ERROR_NOT_READY) {
            return false;
        }
        CudaException.check(r, "cuEventQuery");
        return true;
    }

    /** Waits (polling, yielding the thread) until the event completes or the timeout passes. */
    public void await(Duration timeout) throws TimeoutException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!isComplete()) {
            if (System.nanoTime() - deadline > 0) {
                throw new TimeoutException("CUDA event not complete after " + timeout.toMillis() + " ms");
            }
            if (Thread.interrupted()) {
                throw new InterruptedException("interrupted while waiting for a CUDA event");
            }
            Thread.onSpinWait();
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            JCudaDriver.cuCtxSetCurrent(context);
            JCudaDriver.cuEventDestroy(event);
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("CUDA event used after close");
        }
    }
}
