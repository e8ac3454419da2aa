package io.shuttle.m2n.transport.ucx;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/** Names a {@code ucs_status_t} for errors, through {@code ucs_status_string} when libucs loads. */
final class UcpStatus {
    private static final MethodHandle STATUS_STRING = lookup();

    private UcpStatus() {
    }

    private static MethodHandle lookup() {
        try {
            Linker linker = Linker.nativeLinker();
            SymbolLookup ucs = SymbolLookup.libraryLookup("libucs.so.0", Arena.global());
            return linker.downcallHandle(ucs.findOrThrow("ucs_status_string"),
                    FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_BYTE));
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            return null;
        }
    }

    /** "Connection reset by remote peer (status -25)". */
    static String describe(int status) {
        if (STATUS_STRING != null) {
            try {
                MemorySegment text = (MemorySegment) STATUS_STRING.invokeExact((byte) status);
                if (!text.equals(MemorySegment.NULL)) {
                    return text.reinterpret(256).getString(0) + " (status " + status + ")";
                }
            } catch (Throwable t) {
                // fall through to the number alone
            }
        }
        return "status " + status;
    }
}
