package io.shuttle.m2n.transport.ucx;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.openucx.jucx.ucp.UcpWorker;

/**
 * Blocks the progress thread on the UCX worker's event fd with a timeout. jucx's
 * {@code waitForEvents()} has no timeout and its {@code arm()} hides UCS_ERR_BUSY, so both
 * {@code ucp_worker_arm} and {@code poll(2)} are called directly through the FFM API. Without
 * them (symbols not found) it falls back to short parks, which costs latency but never hangs.
 */
final class EventWait {
    private static final int POLLIN = 1;
    private static final int UCS_OK = 0;

    private final MethodHandle arm;
    private final MethodHandle poll;
    private final long workerPtr;
    private final MemorySegment pollfd;
    private final String mode;

    EventWait(UcpWorker worker) {
        MethodHandle a = null;
        MethodHandle p = null;
        MemorySegment fds = null;
        String m;
        long ptr = 0;
        try {
            Linker linker = Linker.nativeLinker();
            SymbolLookup ucp = SymbolLookup.libraryLookup("libucp.so.0", Arena.global());
            a = linker.downcallHandle(ucp.findOrThrow("ucp_worker_arm"),
                    FunctionDescriptor.of(ValueLayout.JAVA_BYTE, ValueLayout.JAVA_LONG)); // ucs_status_t: one byte
            p = linker.downcallHandle(linker.defaultLookup().findOrThrow("poll"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                            ValueLayout.JAVA_INT));
            ptr = worker.getNativeId();
            fds = Arena.global().allocate(8, 8);
            fds.set(ValueLayout.JAVA_INT, 0, worker.getEventFD());
            m = "event fd";
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            a = null;
            p = null;
            m = "park (no event fd: " + e.getMessage() + ")";
        }
        this.arm = a;
        this.poll = p;
        this.workerPtr = ptr;
        this.pollfd = fds;
        this.mode = m;
    }

    String mode() {
        return mode;
    }

    /** Waits for a UCX event or {@code UcpWorker.signal()}, at most {@code maxNanos}. */
    void await(long maxNanos) {
        if (arm()) {
            block(maxNanos);
        }
    }

    /** Arms the worker's event fd (a worker call: under the node's progress lock); false if events are pending. */
    boolean arm() {
        if (arm == null) {
            return true;
        }
        try {
            return (byte) arm.invokeExact(workerPtr) == UCS_OK; // UCS_ERR_BUSY: events are pending, progress again
        } catch (Throwable t) {
            throw new IllegalStateException("arming the UCX event fd failed", t);
        }
    }

    /** Blocks in poll(2) on the armed fd (no worker call: another thread may progress the worker meanwhile). */
    void block(long maxNanos) {
        if (arm == null) {
            LockSupport.parkNanos(Math.min(maxNanos, TimeUnit.MICROSECONDS.toNanos(200)));
            return;
        }
        try {
            pollfd.set(ValueLayout.JAVA_SHORT, 4, (short) POLLIN);
            pollfd.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
            int ms = (int) Math.max(1, Math.min(Integer.MAX_VALUE, TimeUnit.NANOSECONDS.toMillis(maxNanos)));
            int ignored = (int) poll.invokeExact(pollfd, 1L, ms);
        } catch (Throwable t) {
            throw new IllegalStateException("waiting on the UCX event fd failed", t);
        }
    }
}
