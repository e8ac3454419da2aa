package io.shuttle.model.safetensors;

import io.shuttle.kernels.DType;
import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Every element type the safetensors format defines, with its width in bits, so that any valid
 * file can be validated even if some of its tensors use a type the engine cannot compute with.
 * Which of them map to a {@link DType} (and can therefore be loaded) is {@link #kernelType()}.
 *
 * <p>The declaration order is the reference implementation's ({@code safetensors/src/tensor.rs},
 * "increasing alignment order"); its writer lays tensors out by <em>descending</em> order of this
 * enum, then by name, and {@link SafetensorsWriter} does the same.
 */
public enum SafetensorsDType {
    BOOL(8), F4(4), F6_E2M3(6), F6_E3M2(6), U8(8), I8(8),
    F8_E5M2(8), F8_E4M3(8), F8_E8M0(8), F8_E4M3FNUZ(8), F8_E5M2FNUZ(8),
    I16(16), U16(16), F16(16), BF16(16), I32(32), U32(32), F32(32), C64(64), F64(64), I64(64), U64(64);

    private final int bits;

    SafetensorsDType(int bits) {
        this.bits = bits;
    }

    /** Width of one element in bits (sub-byte types are 4 or 6). */
    public int bits() {
        return bits;
    }

    /** The header spelling, e.g. "BF16". */
    public String headerName() {
        return name();
    }

    /** The engine's type for this one, if the engine supports it (F32, BF16, F16, I32). */
    public Optional<DType> kernelType() {
        return switch (this) {
            case F32 -> Optional.of(DType.F32);
            case BF16 -> Optional.of(DType.BF16);
            case F16 -> Optional.of(DType.F16);
            case I32 -> Optional.of(DType.I32);
            default -> Optional.empty();
        };
    }

    /** The safetensors type of an engine type. */
    public static SafetensorsDType of(DType dtype) {
        return valueOf(dtype.safetensorsName());
    }

    /** Parses a header dtype string; empty if the format has no such type. */
    public static Optional<SafetensorsDType> parse(String headerName) {
        for (SafetensorsDType d : values()) {
            if (d.name().equals(headerName)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }

    /** All header spellings, comma-separated, for error messages. */
    public static String allNames() {
        return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
    }
}
