package io.shuttle.kernels;

/**
 * Element types a {@link Tensor} can hold. Weights arrive as F32, BF16 or F16 from checkpoints;
 * CPU math is F32; I32 carries indices (token ids, positions, block tables, expert ids).
 */
public enum DType {
    F32(4, "F32"),
    BF16(2, "BF16"),
    F16(2, "F16"),
    I32(4, "I32");

    private final int byteSize;
    private final String safetensorsName;

    DType(int byteSize, String safetensorsName) {
        this.byteSize = byteSize;
        this.safetensorsName = safetensorsName;
    }

    public int byteSize() {
        return byteSize;
    }

    /** The dtype string used in safetensors headers ("F32", "BF16", "F16", "I32"). */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** Parses a safetensors dtype string; throws with the list of supported names otherwise. */
    public static DType fromSafetensors(String name) {
        for (DType d : values()) {
            if (d.safetensorsName.equals(name)) {
                return d;
            }
        }
        throw new IllegalArgumentException("unsupported dtype '" + name + "' (supported: F32, BF16, F16, I32)");
    }

    public boolean isFloating() {
        return this != I32;
    }
}
