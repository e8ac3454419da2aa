package io.shuttle.model.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.shuttle.kernels.DType;
import io.shuttle.kernels.Tensor;
import io.shuttle.model.ProgressListener;
import io.shuttle.model.RawSafetensors;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exact bytes: the reference implementation's own test vectors (safetensors/src/tensor.rs,
 * {@code test_serialization}, {@code test_serialization_forced_alignement}, {@code test_empty}) and
 * hand-spelled files, read and written.
 */
class SafetensorsGoldenTest {

    @TempDir
    Path dir;

    /** tensor.rs test_serialization: "attn.0" F32 [1, 2, 3] = 0..5, no metadata. */
    private static final int[] UPSTREAM_ATTN_0 = {
        64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
        116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
        58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
        101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
        0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64};

    /** tensor.rs test_serialization_forced_alignement: "attn0" F32 [1, 1, 2, 3], 7 spaces of padding. */
    private static final int[] UPSTREAM_ATTN0_PADDED = {
        72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
        121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
        91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
        115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
        32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
        160, 64};

    /** tensor.rs test_empty: no tensors, metadata {"framework": "pt"}. */
    private static final int[] UPSTREAM_EMPTY_WITH_METADATA = {
        40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
        95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
        116, 34, 125, 125, 32, 32, 32, 32, 32};

    @Test
    void writerReproducesUpstreamVectors() throws IOException {
        float[] values = {0, 1, 2, 3, 4, 5};
        assertArrayEquals(bytes(UPSTREAM_ATTN_0), writeF32("attn.0", values, Map.of(), 1, 2, 3));
        assertArrayEquals(bytes(UPSTREAM_ATTN0_PADDED), writeF32("attn0", values, Map.of(), 1, 1, 2, 3));
        Path empty = dir.resolve("empty.safetensors");
        SafetensorsWriter.write(empty, List.of(), Map.of("framework", "pt"), (s, o) -> { }, ProgressListener.none());
        assertArrayEquals(bytes(UPSTREAM_EMPTY_WITH_METADATA), Files.readAllBytes(empty));
    }

    @Test
    void readerReadsUpstreamVector() throws IOException {
        Path file = dir.resolve("upstream.safetensors");
        Files.write(file, bytes(UPSTREAM_ATTN_0));
        try (SafetensorsFile f = SafetensorsFile.open(file); Arena arena = Arena.ofConfined()) {
            HeaderEntry e = f.entry("attn.0").orElseThrow();
            assertEquals(SafetensorsDType.F32, e.dtype());
            assertArrayEquals(new long[] {1, 2, 3}, e.shape());
            assertEquals(72, f.header().dataStart());
            Tensor t = Tensor.of(f.map(e, arena), DType.F32, e.shape());
            assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, t.toFloatArray());
        }
    }

    /** Two dtypes: F32 goes before F16 whatever the names; "__metadata__" first; 3 spaces pad 141 → 144. */
    @Test
    void writerOrdersByDescendingDtypeThenNameAndPads() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Tensor a = Tensor.allocate(arena, DType.F16, 2);
            a.setFloat(0, 1.0f);
            a.setFloat(1, 0.5f);
            Tensor b = Tensor.ofFloats(arena, new float[] {1.5f, -2.0f}, 1, 2);
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            tensors.put("a", a);
            tensors.put("b", b);
            Path file = dir.resolve("two.safetensors");
            SafetensorsWriter.write(file, tensors);

            String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                    + "\"b\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]},"
                    + "\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]}}   ";
            byte[] expected = concat(
                    new byte[] {(byte) 144, 0, 0, 0, 0, 0, 0, 0},
                    header.getBytes(StandardCharsets.US_ASCII),
                    new byte[] {0, 0, (byte) 0xC0, 0x3F, 0, 0, 0, (byte) 0xC0},   // 1.5f, -2.0f
                    new byte[] {0x00, 0x3C, 0x00, 0x38});                          // f16 1.0, 0.5
            assertArrayEquals(expected, Files.readAllBytes(file));
        }
    }

    /** A file spelled out by hand: JSON order differs from data order, metadata present, BF16 and F32. */
    @Test
    void readerReadsHandWrittenFile() throws IOException {
        String header = "{\"norm\":{\"data_offsets\":[8,16],\"dtype\":\"F32\",\"shape\":[2]},"
                + "\"__metadata__\":{\"format\":\"pt\",\"note\":\"hand\"},"
                + "\"w\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}";
        byte[] data = concat(
                new byte[] {(byte) 0x80, 0x3F, 0x00, 0x40, 0x40, 0x40, (byte) 0x80, (byte) 0xBF},  // bf16 1, 2, 3, -1
                RawSafetensors.f32(0.25f, -8f));
        Path file = RawSafetensors.write(dir.resolve("hand.safetensors"), header, data);
        try (SafetensorsFile f = SafetensorsFile.open(file); Arena arena = Arena.ofConfined()) {
            assertEquals(Map.of("format", "pt", "note", "hand"), f.header().metadata());
            assertEquals(List.of("w", "norm"), f.entries().stream().map(HeaderEntry::name).toList());
            HeaderEntry w = f.entry("w").orElseThrow();
            assertArrayEquals(new float[] {1, 2, 3, -1}, Tensor.of(f.map(w, arena), DType.BF16, w.shape()).toFloatArray());
            HeaderEntry norm = f.entry("norm").orElseThrow();
            assertArrayEquals(new float[] {0.25f, -8f}, Tensor.of(f.map(norm, arena), DType.F32, 2).toFloatArray());
        }
    }

    private byte[] writeF32(String name, float[] values, Map<String, String> metadata, long... shape) throws IOException {
        Path file = dir.resolve(name + ".safetensors");
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.ofFloats(arena, values, shape);
            SafetensorsWriter.write(file, List.of(new TensorSpec(name, DType.F32, shape)), metadata,
                    (spec, out) -> out.copyFrom(t.data()), ProgressListener.none());
        }
        return Files.readAllBytes(file);
    }

    private static byte[] bytes(int[] values) {
        byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (byte) values[i];
        }
        return out;
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int pos = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, pos, p.length);
            pos += p.length;
        }
        return out;
    }
}
