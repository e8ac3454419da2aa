package io.shuttle.model;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds safetensors files byte by byte, bypassing the writer under test (for golden and corrupt files). */
public final class RawSafetensors {

    private RawSafetensors() {
    }

    /** 8-byte little-endian length of {@code header} (as UTF-8), the header, then {@code data}. */
    public static Path write(Path file, String header, byte[] data) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        return write(file, json.length, json, data);
    }

    /** As {@link #write(Path, String, byte[])} with an arbitrary (possibly lying) length prefix. */
    public static Path write(Path file, long lengthPrefix, byte[] header, byte[] data) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(lengthPrefix).put(header).put(data);
        Files.write(file, buf.array());
        return file;
    }

    /** Little-endian bytes of floats. */
    public static byte[] f32(float... values) {
        ByteBuffer buf = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            buf.putFloat(v);
        }
        return buf.array();
    }
}
