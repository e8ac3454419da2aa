package io.shuttle.kernels.cuda;

import io.shuttle.kernels.Tensor;
import jcuda.NativePointerObject;
import jcuda.Pointer;

import java.util.ArrayList;
import java.util.List;

/**
 * The parameter list of one kernel launch, in the kernel's declaration order. Device pointers go
 * in as their 64-bit address (that is all a pointer parameter is), so any slice of a device
 * tensor can be passed without a JCuda pointer object per slice.
 */
final class KernelArgs {
    private final List<NativePointerObject> args = new ArrayList<>();

    KernelArgs ptr(Tensor t) {
        return i64(t.data().address());
    }

    /** A null pointer parameter (kernels read it as "absent"). */
    KernelArgs nullPtr() {
        return i64(0L);
    }

    KernelArgs i64(long v) {
        args.add(Pointer.to(new long[] {v}));
        return this;
    }

    KernelArgs i32(int v) {
        args.add(Pointer.to(new int[] {v}));
        return this;
    }

    KernelArgs f32(float v) {
        args.add(Pointer.to(new float[] {v}));
        return this;
    }

    /** A struct passed by value, laid out by {@link CStruct}. */
    KernelArgs struct(byte[] bytes) {
        args.add(Pointer.to(bytes));
        return this;
    }

    Pointer toPointer() {
        return Pointer.to(args.toArray(new NativePointerObject[0]));
    }
}
