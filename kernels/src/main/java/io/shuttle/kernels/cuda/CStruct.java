package io.shuttle.kernels.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Builds the bytes of a C struct passed by value as a kernel parameter, with the layout rules nvcc
 * uses on x86-64/sm_90 for plain structs: each field aligned to its own size, the whole padded
 * to its largest alignment. Fields are appended in declaration order; PtxBuildTest compares the
 * sizes produced here with the parameter sizes in the PTX.
 */
final class CStruct {
    private final ByteBuffer buf;
    private int maxAlign = 1;

    CStruct(int capacity) {
        buf = ByteBuffer.allocate(capacity).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A 64-bit field: a device pointer, {@code long long} or {@code unsigned long long}. */
    CStruct i64(long v) {
        align(8);
        buf.putLong(v);
        return this;
    }

    CStruct i32(int v) {
        align(4);
        buf.putInt(v);
        return this;
    }

    CStruct f32(float v) {
        align(4);
        buf.putFloat(v);
        return this;
    }

    /** The struct's bytes, tail-padded to its alignment. */
    byte[] bytes() {
        int size = (buf.position() + maxAlign - 1) / maxAlign * maxAlign;
        byte[] out = new byte[size];
        System.arraycopy(buf.array(), 0, out, 0, buf.position());
        return out;
    }

    private void align(int a) {
        maxAlign = Math.max(maxAlign, a);
        while (buf.position() % a != 0) {
            buf.put((byte) 0);
        }
    }
}
