package io.shuttle.reference;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Writes safetensors files the way huggingface/safetensors does: u64 little-endian header length, a JSON header
 * padded with spaces to a multiple of 8 (so the data buffer starts 8-byte aligned) carrying
 * {@code "__metadata__": {"format": "pt"}}, then the tensors back to back, row-major, little-endian. With a single
 * dtype per file the library's "descending alignment, then name" order is simply name order.
 */
public final class SafetensorsWriter {

    /** Storage types the writer can produce. */
    public enum DType {
        F32(4), BF16(2), F16(2);

        final int bytes;

        DType(int bytes) {
            this.bytes = bytes;
        }
    }

    /** A tensor to write: row-major values in double, converted to the file dtype on write. */
    public record Tensor(long[] shape, double[] values) {
        public Tensor {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            if (n != values.length) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n
                        + " values, got " + values.length);
            }
        }
    }

    private SafetensorsWriter() {
    }

    /** Writes {@code tensors} (name → tensor) to {@code file} in {@code dtype}; returns the data size in bytes. */
    public static long write(Path file, Map<String, Tensor> tensors, DType dtype) throws IOException {
        List<String> names = new ArrayList<>(tensors.keySet());
        names.sort(null);
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        long offset = 0;
        for (String name : names) {
            Tensor t = tensors.get(name);
            ObjectNode entry = header.putObject(name);
            entry.put("dtype", dtype.name());
            ArrayNode shape = entry.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            long size = (long) t.values().length * dtype.bytes;
            entry.putArray("data_offsets").add(offset).add(offset + size);
            offset += size;
        }
        byte[] headerBytes = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (headerBytes.length + 7) / 8 * 8;
        byte[] headerPadded = Arrays.copyOf(headerBytes, padded);
        Arrays.fill(headerPadded, headerBytes.length, padded, (byte) ' ');
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
            out.write(headerPadded);
            for (String name : names) {
                out.write(encode(tensors.get(name).values(), dtype));
            }
        }
        return offset;
    }

    static byte[] encode(double[] values, DType dtype) {
        ByteBuffer buf = ByteBuffer.allocate(values.length * dtype.bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            float f = (float) v;
            switch (dtype) {
                case F32 -> buf.putFloat(f);
                case BF16 -> buf.putShort(toBf16Bits(f));
                case F16 -> buf.putShort(Float.floatToFloat16(f));
            }
        }
        return buf.array();
    }

    /** float32 → bfloat16 with round-to-nearest-even (as torch does); NaN stays a quiet NaN. */
    public static short toBf16Bits(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    /** The value a double takes after being stored in {@code dtype} and read back. */
    public static double roundTrip(double v, DType dtype) {
        float f = (float) v;
        return switch (dtype) {
            case F32 -> f;
            case BF16 -> Float.intBitsToFloat((toBf16Bits(f) & 0xFFFF) << 16);
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(f));
        };
    }
}
