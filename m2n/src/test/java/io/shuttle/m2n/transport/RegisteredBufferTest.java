package io.shuttle.m2n.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class RegisteredBufferTest {
    @Test
    void narrowHandsTheLeaseToTheViewAndReturnsTheSlabOnce() {
        try (BufferPool pool = new BufferPool(1L << 20, BufferPool.Registrar.NONE)) {
            RegisteredBuffer whole = pool.allocate(100);
            whole.segment().set(ValueLayout.JAVA_BYTE, 64, (byte) 7);
            long base = whole.address();
            RegisteredBuffer payload = whole.narrow(64, 36);
            assertEquals(36, payload.length());
            assertEquals(base + 64, payload.address());
            assertEquals(7, payload.segment().get(ValueLayout.JAVA_BYTE, 0));
            assertThrows(IllegalStateException.class, () -> whole.narrow(0, 1));
            whole.close(); // no-op: the view owns the slab now
            RegisteredBuffer other = pool.allocate(100);
            assertNotEquals(base, other.address(), "slab returned while the view still holds it");
            payload.close();
            payload.close();
            RegisteredBuffer again = pool.allocate(100);
            assertEquals(base, again.address(), "closing the view returns the slab to the pool");
            assertEquals(2 * 4096, pool.reservedBytes());
            other.close();
            again.close();
        }
    }

    @Test
    void narrowOutsideTheBufferIsRefused() {
        try (BufferPool pool = new BufferPool(1L << 20, BufferPool.Registrar.NONE)) {
            RegisteredBuffer b = pool.allocate(100);
            assertThrows(IndexOutOfBoundsException.class, () -> b.narrow(64, 37));
            b.close();
        }
    }
}
