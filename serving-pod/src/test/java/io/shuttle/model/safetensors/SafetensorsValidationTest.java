package io.shuttle.model.safetensors;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.shuttle.model.CheckpointException;
import io.shuttle.model.RawSafetensors;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every way a safetensors file can be broken is reported at open, naming the file and the tensor. */
class SafetensorsValidationTest {

    @TempDir
    Path dir;

    private static final String TWO_TENSORS = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";

    @Test
    void truncatedFileNamesTheTensorThatRunsPastTheEnd() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("model-00002-of-00003.safetensors"), TWO_TENSORS,
                RawSafetensors.f32(1, 2, 3, 4));
        long size;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            size = ch.size() - 3;
            ch.truncate(size);
        }
        long headerEnd = 8 + TWO_TENSORS.length();
        String msg = failure(file);
        assertContains(msg, file.toString(), "tensor 'b'", "ends at byte " + (headerEnd + 16),
                "the file has " + size + " bytes", "truncated");
    }

    @Test
    void headerLengthOverTheLimit() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("huge.safetensors"), 200_000_000L, "{}".getBytes(), new byte[0]);
        assertContains(failure(file), file.toString(), "200000000", "100 MB");
    }

    @Test
    void headerLengthPastTheEndOfTheFile() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("short.safetensors"), 1000, "{}".getBytes(), new byte[0]);
        assertContains(failure(file), file.toString(), "header length 1000", "runs past the end");
    }

    @Test
    void fileShorterThanTheLengthPrefix() throws IOException {
        Path file = dir.resolve("tiny.safetensors");
        java.nio.file.Files.write(file, new byte[] {1, 2, 3});
        assertContains(failure(file), file.toString(), "3 bytes", "truncated");
    }

    @Test
    void invalidJson() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("bad.safetensors"), "{\"a\":{\"dtype\":\"F32\",", new byte[0]);
        assertContains(failure(file), file.toString(), "not valid JSON");
    }

    @Test
    void invalidUtf8() throws IOException {
        byte[] header = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        Path file = RawSafetensors.write(dir.resolve("utf.safetensors"), header.length, header, new byte[0]);
        assertContains(failure(file), file.toString(), "UTF-8");
    }

    @Test
    void duplicateTensorName() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        Path file = RawSafetensors.write(dir.resolve("dup.safetensors"), header, RawSafetensors.f32(1, 2));
        assertContains(failure(file), file.toString(), "'a'");
    }

    @Test
    void overlappingOffsets() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        Path file = RawSafetensors.write(dir.resolve("overlap.safetensors"), header, RawSafetensors.f32(1, 2, 3));
        assertContains(failure(file), file.toString(), "tensor 'b'", "overlap tensor 'a'", "[4, 12]", "[0, 8]");
    }

    @Test
    void holeBetweenTensors() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}";
        Path file = RawSafetensors.write(dir.resolve("hole.safetensors"), header, RawSafetensors.f32(1, 2, 3, 4, 5));
        assertContains(failure(file), file.toString(), "tensor 'b'", "4 unused bytes", "tensor 'a'");
    }

    @Test
    void firstTensorNotAtZero() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        Path file = RawSafetensors.write(dir.resolve("gap.safetensors"), header, RawSafetensors.f32(1, 2));
        assertContains(failure(file), file.toString(), "tensor 'a'", "start of the data region");
    }

    @Test
    void sizeThatContradictsShapeAndDtype() throws IOException {
        String header = "{\"w\":{\"dtype\":\"BF16\",\"shape\":[3,2],\"data_offsets\":[0,8]}}";
        Path file = RawSafetensors.write(dir.resolve("size.safetensors"), header, new byte[8]);
        assertContains(failure(file), file.toString(), "tensor 'w'", "needs 12 bytes", "span 8 bytes");
    }

    @Test
    void unknownDtypeListsTheFormatsTypes() throws IOException {
        String header = "{\"q\":{\"dtype\":\"Q4_K\",\"shape\":[2],\"data_offsets\":[0,1]}}";
        Path file = RawSafetensors.write(dir.resolve("dtype.safetensors"), header, new byte[1]);
        assertContains(failure(file), file.toString(), "tensor 'q'", "unknown dtype 'Q4_K'", "BF16", "F8_E4M3");
    }

    @Test
    void missingDataOffsets() throws IOException {
        String header = "{\"q\":{\"dtype\":\"F32\",\"shape\":[2]}}";
        Path file = RawSafetensors.write(dir.resolve("offsets.safetensors"), header, new byte[0]);
        assertContains(failure(file), file.toString(), "tensor 'q'", "data_offsets");
    }

    @Test
    void negativeShape() throws IOException {
        String header = "{\"q\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}";
        Path file = RawSafetensors.write(dir.resolve("neg.safetensors"), header, new byte[8]);
        assertContains(failure(file), file.toString(), "tensor 'q'", "shape");
    }

    @Test
    void trailingBytesAfterTheLastTensor() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("tail.safetensors"), TWO_TENSORS, RawSafetensors.f32(1, 2, 3, 4, 5));
        assertContains(failure(file), file.toString(), "4 unexpected trailing bytes");
    }

    @Test
    void headerThatIsNotAnObject() throws IOException {
        Path file = RawSafetensors.write(dir.resolve("array.safetensors"), "[1, 2]", new byte[0]);
        assertContains(failure(file), file.toString(), "not a JSON object");
    }

    @Test
    void missingFile() {
        Path file = dir.resolve("absent.safetensors");
        assertContains(failure(file), file.toString(), "not found");
    }

    @Test
    void emptyTensorsAndScalarsAreValid() throws IOException {
        String header = "{\"empty\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[0,0]},"
                + "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
        Path file = RawSafetensors.write(dir.resolve("edge.safetensors"), header, RawSafetensors.f32(7));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertTrue(f.entry("empty").isPresent() && f.entry("scalar").isPresent());
        }
    }

    private static String failure(Path file) {
        return assertThrows(CheckpointException.class, () -> SafetensorsFile.open(file).close()).getMessage();
    }

    private static void assertContains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), () -> "expected '" + p + "' in: " + message);
        }
    }
}
