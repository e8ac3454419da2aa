package io.shuttle.m2n.transport.ucx;

import java.util.Optional;
import org.openucx.jucx.ucp.UcpContext;
import org.openucx.jucx.ucp.UcpParams;

/** Whether UCX can be used in this process: jucx's native library and the system libucp load. */
public final class UcxSupport {
    private UcxSupport() {
    }

    /** Empty when a UCX context can be created; otherwise why not (for the start-up log). */
    public static Optional<String> unavailableReason() {
        try {
            new UcpContext(new UcpParams().requestTagFeature().requestWakeupFeature()).close();
            return Optional.empty();
        } catch (Throwable t) {
            // UnsatisfiedLinkError / NoClassDefFoundError when libucp is missing, UcxException when it fails
            return Optional.of(t.getClass().getSimpleName() + ": " + t.getMessage());
        }
    }
}
