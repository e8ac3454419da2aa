package io.shuttle.m2n.transport.ucx;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The UCP calls on the message path, made straight into {@code libucp.so.0} through the FFM API
 * on one worker. jucx stays for everything made once (context, worker, endpoints, memory
 * registration); its per-message path crosses JNI, allocates a request object, a global ref
 * and a callback per operation, and calls back into Java on completion, which alone cost about
 * half of a 4 KiB ping-pong's round trip on top of {@code ucx_perftest}. Here operations carry no
 * callback: UCP returns NULL when it finished in place, or a request the caller polls
 * ({@link #requestStatus}) and frees ({@link #free}). Pointers travel as {@code long}, so a call
 * allocates nothing.
 *
 * <p>Single-threaded: the parameter and info blocks are reused, so only the worker's progress
 * thread may call in.
 */
final class UcpCalls {
    /** {@code UCS_OK}. */
    static final int OK = 0;
    /** {@code UCS_INPROGRESS}. */
    static final int IN_PROGRESS = 1;
    /** {@code UCS_ERR_CANCELED}. */
    static final int ERR_CANCELED = -16;
    /** {@code UCS_ERR_LAST}: status pointers in [-100, -1] are errors. */
    private static final long ERR_LAST = -100;

    /** {@code UCP_OP_ATTR_FIELD_DATATYPE}. */
    private static final int OP_ATTR_DATATYPE = 1 << 3;
    /** {@code UCP_OP_ATTR_FIELD_RECV_INFO}. */
    private static final int OP_ATTR_RECV_INFO = 1 << 7;
    /** {@code UCP_OP_ATTR_FLAG_NO_IMM_CMPL}. */
    private static final int OP_FLAG_NO_IMMEDIATE = 1 << 16;
    /** {@code ucp_dt_make_iov()}: the buffer is an array of {@code ucp_dt_iov_t} and count its length. */
    private static final long DATATYPE_IOV = 2;
    /** {@code ucp_dt_iov_t}: buffer @0, length @8. */
    static final long IOV_ENTRY_BYTES = 16;
    /** {@code ucp_request_param_t}: op_attr_mask @0 ... recv_info @56; 64 bytes in UCX 1.13, more later. */
    private static final long PARAM_BYTES = 128;
    private static final long PARAM_DATATYPE = 24;
    private static final long PARAM_RECV_INFO = 56;

    private static final MethodHandle WORKER_PROGRESS;
    private static final MethodHandle TAG_SEND_NBX;
    private static final MethodHandle TAG_PROBE_NB;
    private static final MethodHandle TAG_MSG_RECV_NBX;
    private static final MethodHandle TAG_RECV_NBX;
    private static final MethodHandle TAG_RECV_REQUEST_TEST;
    private static final MethodHandle REQUEST_CHECK_STATUS;
    private static final MethodHandle REQUEST_FREE;
    private static final MethodHandle REQUEST_CANCEL;
    private static final Throwable UNAVAILABLE;

    static {
        MethodHandle[] h = new MethodHandle[9];
        Throwable why = null;
        try {
            Linker linker = Linker.nativeLinker();
            SymbolLookup ucp = SymbolLookup.libraryLookup("libucp.so.0", Arena.global());
            h[0] = linker.downcallHandle(ucp.findOrThrow("ucp_worker_progress"),
                    FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
            h[1] = linker.downcallHandle(ucp.findOrThrow("ucp_tag_send_nbx"),
                    FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
            // Calls that only look at or release UCP's own state (no callback, no wait) skip the
            // thread-state transition: they run on every poll of the progress loop.
            Linker.Option quick = Linker.Option.critical(false);
            h[2] = linker.downcallHandle(ucp.findOrThrow("ucp_tag_probe_nb"),
                    FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_LONG), quick);
            h[3] = linker.downcallHandle(ucp.findOrThrow("ucp_tag_msg_recv_nbx"),
                    FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
            h[4] = linker.downcallHandle(ucp.findOrThrow("ucp_tag_recv_nbx"),
                    FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG));
            // ucs_status_t is a packed (one-byte) enum
            h[5] = linker.downcallHandle(ucp.findOrThrow("ucp_tag_recv_request_test"),
                    FunctionDescriptor.of(JAVA_BYTE, JAVA_LONG, JAVA_LONG), quick);
            h[6] = linker.downcallHandle(ucp.findOrThrow("ucp_request_check_status"),
                    FunctionDescriptor.of(JAVA_BYTE, JAVA_LONG), quick);
            h[7] = linker.downcallHandle(ucp.findOrThrow("ucp_request_free"), FunctionDescriptor.ofVoid(JAVA_LONG), quick);
            h[8] = linker.downcallHandle(ucp.findOrThrow("ucp_request_cancel"),
                    FunctionDescriptor.ofVoid(JAVA_LONG, JAVA_LONG));
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            why = e;
        }
        WORKER_PROGRESS = h[0];
        TAG_SEND_NBX = h[1];
        TAG_PROBE_NB = h[2];
        TAG_MSG_RECV_NBX = h[3];
        TAG_RECV_NBX = h[4];
        TAG_RECV_REQUEST_TEST = h[5];
        REQUEST_CHECK_STATUS = h[6];
        REQUEST_FREE = h[7];
        REQUEST_CANCEL = h[8];
        UNAVAILABLE = why;
    }

    private final long worker;
    /** Zeroed {@code ucp_request_param_t} for sends: contiguous bytes, no callback. */
    private final MemorySegment sendParam;
    /** Same, with an iov datatype: a message gathered from several buffers. */
    private final MemorySegment sendIovParam;
    private final long sendIovParamAddress;
    /** Same, with recv_info pointing at {@link #info}, for receiving a probed message. */
    private final MemorySegment recvParam;
    /**
     * For tag receives: always a request. UCX 1.13 does not fill recv_info when a tag receive
     * completes in place, and without it the sender's tag and the length would be unknown.
     */
    private final MemorySegment tagRecvParam;
    private final long tagRecvParamAddress;
    /** {@code ucp_tag_recv_info_t}: sender_tag @0, length @8. */
    private final MemorySegment info;
    private final long sendParamAddress;
    private final long recvParamAddress;
    private final long infoAddress;

    /** Throws {@link IllegalStateException} naming the cause when libucp's symbols are missing. */
    UcpCalls(long workerHandle) {
        if (UNAVAILABLE != null) {
            throw new IllegalStateException("UCX cannot be used: libucp.so.0 or its functions could not be "
                    + "linked (" + UNAVAILABLE + "); install libucx0 or use the tcp transport", UNAVAILABLE);
        }
        this.worker = workerHandle;
        Arena arena = Arena.ofAuto();
        this.sendParam = arena.allocate(PARAM_BYTES, 8);
        this.sendIovParam = arena.allocate(PARAM_BYTES, 8);
        sendIovParam.set(JAVA_INT, 0, OP_ATTR_DATATYPE);
        sendIovParam.set(JAVA_LONG, PARAM_DATATYPE, DATATYPE_IOV);
        this.sendIovParamAddress = sendIovParam.address();
        this.recvParam = arena.allocate(PARAM_BYTES, 8);
        this.info = arena.allocate(16, 8);
        recvParam.set(JAVA_INT, 0, OP_ATTR_RECV_INFO);
        recvParam.set(JAVA_LONG, PARAM_RECV_INFO, info.address());
        this.tagRecvParam = arena.allocate(PARAM_BYTES, 8);
        tagRecvParam.set(JAVA_INT, 0, OP_FLAG_NO_IMMEDIATE);
        this.tagRecvParamAddress = tagRecvParam.address();
        this.sendParamAddress = sendParam.address();
        this.recvParamAddress = recvParam.address();
        this.infoAddress = info.address();
    }

    /** True when {@code statusPtr} is a request handle (not NULL and not an error code). */
    static boolean isRequest(long statusPtr) {
        return statusPtr != 0 && !isError(statusPtr);
    }

    /** True when {@code statusPtr} encodes an error status. */
    static boolean isError(long statusPtr) {
        return Long.compareUnsigned(statusPtr, ERR_LAST) >= 0;
    }

    /** The status a NULL, error or request pointer stands for (request: in progress). */
    static int statusOf(long statusPtr) {
        return statusPtr == 0 ? OK : isError(statusPtr) ? (int) statusPtr : IN_PROGRESS;
    }

    /** {@code ucp_worker_progress}: the number of events it handled. */
    int progress() {
        try {
            return (int) WORKER_PROGRESS.invokeExact(worker);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code ucp_tag_send_nbx} of {@code length} bytes at {@code address}: NULL, an error, or a request. */
    long tagSend(long endpoint, long address, long length, long tag) {
        try {
            return (long) TAG_SEND_NBX.invokeExact(endpoint, address, length, tag, sendParamAddress);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code ucp_tag_send_nbx} of one message gathered from {@code entries} {@code ucp_dt_iov_t}
     * at {@code iovAddress} (which must stay valid until the send finished).
     */
    long tagSendGather(long endpoint, long iovAddress, long entries, long tag) {
        try {
            return (long) TAG_SEND_NBX.invokeExact(endpoint, iovAddress, entries, tag, sendIovParamAddress);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code ucp_tag_probe_nb} with remove: a message handle (0 if none matched); its sender tag
     * and length are then in {@link #infoTag()} and {@link #infoLength()}.
     */
    long probeAndRemove(long tag, long tagMask) {
        try {
            return (long) TAG_PROBE_NB.invokeExact(worker, tag, tagMask, 1, infoAddress);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    long infoTag() {
        return info.get(JAVA_LONG, 0);
    }

    long infoLength() {
        return info.get(JAVA_LONG, 8);
    }

    /** {@code ucp_tag_msg_recv_nbx} of a probed message: NULL (done), an error, or a request. */
    long receiveMessage(long address, long length, long message) {
        try {
            return (long) TAG_MSG_RECV_NBX.invokeExact(worker, address, length, message, recvParamAddress);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * {@code ucp_tag_recv_nbx} of the first message whose tag matches {@code tag} in the bits of
     * {@code tagMask}: a request (never done in place), or an error.
     */
    long receiveTagged(long address, long length, long tag, long tagMask) {
        try {
            return (long) TAG_RECV_NBX.invokeExact(worker, address, length, tag, tagMask, tagRecvParamAddress);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Status of a send request (IN_PROGRESS until done). */
    static int requestStatus(long request) {
        try {
            return (byte) REQUEST_CHECK_STATUS.invokeExact(request);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Status of a receive request; once done, its length is in {@link #infoLength()}. */
    int receiveStatus(long request) {
        try {
            return (byte) TAG_RECV_REQUEST_TEST.invokeExact(request, infoAddress);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Returns a finished request to UCP (a pending one is released when it finishes). */
    static void free(long request) {
        try {
            REQUEST_FREE.invokeExact(request);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Asks UCP to finish a pending request with UCS_ERR_CANCELED at a later progress. */
    void cancel(long request) {
        try {
            REQUEST_CANCEL.invokeExact(worker, request);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
