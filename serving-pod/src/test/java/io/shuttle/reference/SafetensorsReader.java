package io.shuttle.reference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Minimal, independent safetensors reader for the reference model: every tensor is decoded to a {@code double[]}.
 *
 * <p>Written from the format description (huggingface/safetensors README and {@code tensor.rs}) rather than shared with
 * the engine's loader, so that a loader bug cannot hide in both: 8-byte little-endian u64 header length N, N bytes of
 * UTF-8 JSON mapping name to {@code {"dtype", "shape", "data_offsets": [begin, end)}} relative to the byte buffer that
 * follows the header, plus an optional {@code "__metadata__"} map. Sharded checkpoints are found through
 * {@code model.safetensors.index.json}'s {@code weight_map}.
 */
final class SafetensorsReader {

    /** The reference implementation caps the header at 100 MB; a larger length means a corrupt or foreign file. */
    private static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;
    static final String SINGLE_FILE = "model.safetensors";
    static final String INDEX_FILE = "model.safetensors.index.json";

    /** Where one tensor's bytes lie: {@code absoluteBegin} is measured from the start of {@code file}. */
    record TensorEntry(String name, Path file, String dtype, long[] shape, long absoluteBegin, long byteLength) {
        long numel() {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    private final Path origin; // the checkpoint folder, named in errors about missing tensors
    private final Map<String, TensorEntry> entries;

    private SafetensorsReader(Path origin, Map<String, TensorEntry> entries) {
        this.origin = origin;
        this.entries = entries;
    }

    /** Opens {@code model.safetensors.index.json} if present, otherwise {@code model.safetensors}, in {@code dir}. */
    static SafetensorsReader openCheckpoint(Path dir) {
        Path index = dir.resolve(INDEX_FILE);
        Path single = dir.resolve(SINGLE_FILE);
        try {
            if (Files.isRegularFile(index)) {
                return openIndex(index);
            }
            if (Files.isRegularFile(single)) {
                return new SafetensorsReader(dir, parseFile(single));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read safetensors in " + dir + ": " + e.getMessage(), e);
        }
        throw new IllegalArgumentException("no " + SINGLE_FILE + " or " + INDEX_FILE + " in " + dir
                + " (expected a Hugging Face checkpoint folder)");
    }

    private static SafetensorsReader openIndex(Path index) throws IOException {
        JsonNode root = new ObjectMapper().readTree(index.toFile());
        JsonNode weightMap = root.get("weight_map");
        if (weightMap == null || !weightMap.isObject()) {
            throw new IllegalArgumentException(index + ": missing object \"weight_map\"");
        }
        Map<String, Map<String, TensorEntry>> shards = new TreeMap<>();
        Map<String, TensorEntry> all = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : weightMap.properties()) {
            String shardName = e.getValue().asText();
            Path shard = index.resolveSibling(shardName);
            Map<String, TensorEntry> inShard = shards.get(shardName);
            if (inShard == null) {
                if (!Files.isRegularFile(shard)) {
                    throw new IllegalArgumentException(index + ": tensor " + e.getKey() + " maps to shard "
                            + shardName + ", which does not exist");
                }
                inShard = parseFile(shard);
                shards.put(shardName, inShard);
            }
            TensorEntry entry = inShard.get(e.getKey());
            if (entry == null) {
                throw new IllegalArgumentException(index + ": tensor " + e.getKey() + " maps to " + shardName
                        + ", but that shard does not contain it");
            }
            all.put(e.getKey(), entry);
        }
        return new SafetensorsReader(index.getParent(), all);
    }

    /** Parses and validates one file's header; the data itself is read lazily per tensor. */
    static Map<String, TensorEntry> parseFile(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long fileSize = ch.size();
            if (fileSize < 8) {
                throw new IllegalArgumentException(file + ": " + fileSize + " bytes, too short for a safetensors file");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0, file);
            long headerLen = lenBuf.flip().getLong();
            if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES || 8 + headerLen > fileSize) {
                throw new IllegalArgumentException(file + ": header length " + headerLen
                        + " is invalid for a file of " + fileSize + " bytes");
            }
            ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
            readFully(ch, headerBuf, 8, file);
            JsonNode header = new ObjectMapper().readTree(new String(headerBuf.array(), StandardCharsets.UTF_8));
            long dataStart = 8 + headerLen;
            return parseHeader(file, header, dataStart, fileSize - dataStart);
        }
    }

    private static Map<String, TensorEntry> parseHeader(Path file, JsonNode header, long dataStart, long dataLen) {
        if (!header.isObject()) {
            throw new IllegalArgumentException(file + ": header is not a JSON object");
        }
        Map<String, TensorEntry> out = new LinkedHashMap<>();
        List<long[]> ranges = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : header.properties()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                continue;
            }
            JsonNode t = e.getValue();
            JsonNode dtypeNode = t.get("dtype");
            JsonNode shapeNode = t.get("shape");
            JsonNode offsets = t.get("data_offsets");
            if (dtypeNode == null || shapeNode == null || !shapeNode.isArray() || offsets == null
                    || !offsets.isArray() || offsets.size() != 2) {
                throw new IllegalArgumentException(file + ": tensor " + name
                        + " lacks dtype, shape or a two-element data_offsets");
            }
            long[] shape = new long[shapeNode.size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = shapeNode.get(i).asLong();
                if (shape[i] < 0) {
                    throw new IllegalArgumentException(file + ": tensor " + name + " has negative dimension");
                }
            }
            long begin = offsets.get(0).asLong();
            long end = offsets.get(1).asLong();
            String dtype = dtypeNode.asText();
            TensorEntry entry = new TensorEntry(name, file, dtype, shape, dataStart + begin, end - begin);
            long expected = Math.multiplyExact(entry.numel(), (long) bytesPerElement(dtype, file, name));
            if (begin < 0 || end < begin || end > dataLen || end - begin != expected) {
                throw new IllegalArgumentException(file + ": tensor " + name + " has data_offsets [" + begin + ", "
                        + end + ") but " + dtype + Arrays.toString(shape) + " needs " + expected
                        + " bytes within a buffer of " + dataLen);
            }
            if (out.put(name, entry) != null) {
                throw new IllegalArgumentException(file + ": duplicate tensor " + name);
            }
            ranges.add(new long[]{begin, end});
        }
        // The format requires the tensors to tile the buffer from 0 without holes or overlaps.
        ranges.sort(Comparator.comparingLong((long[] r) -> r[0]));
        long cursor = 0;
        for (long[] r : ranges) {
            if (r[0] != cursor) {
                throw new IllegalArgumentException(file + ": data_offsets leave a hole or overlap at byte " + cursor);
            }
            cursor = r[1];
        }
        if (cursor != dataLen) {
            throw new IllegalArgumentException(file + ": tensors cover " + cursor + " bytes but the data buffer has "
                    + dataLen);
        }
        return out;
    }

    private static int bytesPerElement(String dtype, Path file, String name) {
        return switch (dtype) {
            case "F64", "I64", "U64" -> 8;
            case "F32", "I32", "U32" -> 4;
            case "F16", "BF16", "I16", "U16" -> 2;
            case "I8", "U8", "BOOL", "F8_E5M2", "F8_E4M3" -> 1;
            default -> throw new IllegalArgumentException(file + ": tensor " + name + " has dtype " + dtype
                    + ", which the reference reader does not handle");
        };
    }

    boolean contains(String name) {
        return entries.containsKey(name);
    }

    Map<String, TensorEntry> entries() {
        return Map.copyOf(entries);
    }

    /** Reads a tensor as doubles after checking its shape; F32, BF16, F16 and F64 are supported. */
    double[] read(String name, long... expectedShape) {
        TensorEntry e = entries.get(name);
        if (e == null) {
            throw new IllegalArgumentException("checkpoint " + origin + " has no tensor " + name);
        }
        if (!Arrays.equals(e.shape(), expectedShape)) {
            throw new IllegalArgumentException(e.file() + ": tensor " + name + " has shape "
                    + Arrays.toString(e.shape()) + " but the config implies " + Arrays.toString(expectedShape));
        }
        ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(e.byteLength())).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(e.file(), StandardOpenOption.READ)) {
            readFully(ch, buf, e.absoluteBegin(), e.file());
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot read tensor " + name + " from " + e.file(), ex);
        }
        buf.flip();
        int n = Math.toIntExact(e.numel());
        double[] out = new double[n];
        switch (e.dtype()) {
            case "F32" -> {
                for (int i = 0; i < n; i++) {
                    out[i] = buf.getFloat();
                }
            }
            case "F64" -> {
                for (int i = 0; i < n; i++) {
                    out[i] = buf.getDouble();
                }
            }
            // bfloat16 is the upper half of an IEEE float32: shift it back into place.
            case "BF16" -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.intBitsToFloat((buf.getShort() & 0xFFFF) << 16);
                }
            }
            case "F16" -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.float16ToFloat(buf.getShort());
                }
            }
            default -> throw new IllegalArgumentException(e.file() + ": tensor " + name + " has dtype " + e.dtype()
                    + "; the reference model reads only F32, BF16, F16 and F64 weights");
        }
        return out;
    }

    /** Reads an nn.Linear weight {@code [rows = out_features][cols = in_features]}. */
    double[][] matrix(String name, int rows, int cols) {
        double[] flat = read(name, rows, cols);
        double[][] m = new double[rows][cols];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(flat, r * cols, m[r], 0, cols);
        }
        return m;
    }

    double[] vector(String name, int length) {
        return read(name, length);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position, Path file) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException(file + ": unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }
}
