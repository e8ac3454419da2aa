package io.shuttle.model.safetensors;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.shuttle.model.CheckpointException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parsed and validated header of a safetensors file: the 8-byte little-endian length, the
 * JSON object, and the checks the reference reader makes (header at most 100 MB, offsets
 * contiguous from 0 with no holes or overlaps, {@code end - begin == numel × bits / 8}, data
 * region exactly filling the rest of the file). Pure: works on bytes, knows the file only by the
 * label it puts into error messages.
 *
 * @param metadata     the optional {@code __metadata__} string map (empty if absent)
 * @param entries      tensors in data-offset order
 * @param headerLength N, the JSON length in bytes; the data region starts at byte 8 + N
 */
public record SafetensorsHeader(Map<String, String> metadata, List<HeaderEntry> entries, long headerLength) {

    /** The reference reader's limit ({@code MAX_HEADER_SIZE} in safetensors' tensor.rs). */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final JsonMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    public SafetensorsHeader {
        metadata = Map.copyOf(metadata);
        entries = List.copyOf(entries);
    }

    /** Absolute file offset of the first data byte. */
    public long dataStart() {
        return 8 + headerLength;
    }

    /** Length of the data region: the end offset of the last tensor. */
    public long dataLength() {
        return entries.isEmpty() ? 0 : entries.getLast().end();
    }

    /**
     * Validates the 8-byte length prefix against the file size and returns N.
     *
     * @param file     label for error messages (the file's path)
     * @param prefix   the first 8 bytes of the file (fewer if the file is shorter)
     * @param fileSize size of the whole file in bytes
     */
    public static long headerLength(String file, byte[] prefix, long fileSize) {
        if (fileSize < 8 || prefix.length < 8) {
            throw fail(file, "the file has " + fileSize + " bytes, too few for a safetensors header "
                    + "(8-byte length + JSON); the file is truncated or empty, download it again");
        }
        long n = ByteBuffer.wrap(prefix, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw fail(file, "header length " + Long.toUnsignedString(n) + " exceeds the 100 MB limit "
                    + "(this is not a safetensors file, or it is corrupt)");
        }
        if (n < 2) {
            throw fail(file, "header length " + n + " is too small to hold a JSON object "
                    + "(this is not a safetensors file, or it is corrupt)");
        }
        if (8 + n > fileSize) {
            throw fail(file, "header length " + n + " runs past the end of the file (" + fileSize
                    + " bytes); the file is truncated or not a safetensors file, download it again");
        }
        return n;
    }

    /**
     * Parses and validates the JSON header, then checks that the data region fits the file.
     *
     * @param file     label for error messages (the file's path)
     * @param json     the N header bytes
     * @param fileSize size of the whole file in bytes
     */
    public static SafetensorsHeader parse(String file, byte[] json, long fileSize) {
        JsonNode root = readJson(file, json);
        Map<String, String> metadata = new LinkedHashMap<>();
        List<HeaderEntry> entries = new ArrayList<>();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            if (field.getKey().equals("__metadata__")) {
                metadata.putAll(readMetadata(file, field.getValue()));
            } else {
                entries.add(readEntry(file, field.getKey(), field.getValue()));
            }
        }
        entries.sort(Comparator.comparingLong(HeaderEntry::begin).thenComparingLong(HeaderEntry::end));
        checkContiguous(file, entries);
        SafetensorsHeader header = new SafetensorsHeader(metadata, entries, json.length);
        header.checkFileSize(file, fileSize);
        return header;
    }

    private static JsonNode readJson(String file, byte[] json) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(json)).toString();
        } catch (CharacterCodingException e) {
            throw fail(file, "the header is not valid UTF-8 (the file is corrupt; download it again)");
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JacksonException e) {
            throw fail(file, "the header is not valid JSON (" + e.getOriginalMessage()
                    + "); the file is corrupt or not a safetensors file, download it again");
        }
        if (root == null || !root.isObject()) {
            throw fail(file, "the header is not a JSON object (this is not a safetensors file, or it is corrupt)");
        }
        return root;
    }

    private static Map<String, String> readMetadata(String file, JsonNode node) {
        if (!node.isObject()) {
            throw fail(file, "'__metadata__' in the header must be an object of strings, got " + node.getNodeType());
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw fail(file, "'__metadata__' value for key '" + e.getKey() + "' must be a string, got "
                        + e.getValue().getNodeType());
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
        return out;
    }

    private static HeaderEntry readEntry(String file, String name, JsonNode node) {
        String where = "tensor '" + name + "'";
        if (!node.isObject()) {
            throw fail(file, where + ": its header entry is not a JSON object (the header is corrupt)");
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw fail(file, where + " has no 'dtype' string in the header (the header is corrupt)");
        }
        SafetensorsDType dtype = SafetensorsDType.parse(dtypeNode.textValue()).orElseThrow(() -> fail(file,
                where + " has unknown dtype '" + dtypeNode.textValue() + "' (safetensors dtypes: "
                        + SafetensorsDType.allNames() + ")"));
        long[] shape = longs(file, where, "shape", node.get("shape"), -1);
        long[] offsets = longs(file, where, "data_offsets", node.get("data_offsets"), 2);
        if (offsets[1] < offsets[0]) {
            throw fail(file, where + " has data_offsets " + Arrays.toString(offsets)
                    + " that end before they begin (the header is corrupt)");
        }
        HeaderEntry entry = new HeaderEntry(name, dtype, shape, offsets[0], offsets[1]);
        long expected = expectedBytes(file, entry);
        if (entry.byteSize() != expected) {
            throw fail(file, where + " (" + dtype + " " + Arrays.toString(shape) + ") needs " + expected
                    + " bytes but its data_offsets " + Arrays.toString(offsets) + " span " + entry.byteSize()
                    + " bytes (the header is corrupt; re-export or download the file again)");
        }
        return entry;
    }

    private static long expectedBytes(String file, HeaderEntry e) {
        try {
            long bits = Math.multiplyExact(e.numel(), e.dtype().bits());
            if (bits % 8 != 0) {
                throw fail(file, "tensor '" + e.name() + "' (" + e.dtype() + " " + Arrays.toString(e.shape())
                        + ") does not end on a byte boundary (the header is corrupt)");
            }
            return bits / 8;
        } catch (ArithmeticException overflow) {
            throw fail(file, "tensor '" + e.name() + "' has a shape " + Arrays.toString(e.shape())
                    + " whose size overflows 64 bits (the header is corrupt)");
        }
    }

    private static long[] longs(String file, String where, String key, JsonNode node, int requiredLength) {
        if (node == null || !node.isArray() || (requiredLength >= 0 && node.size() != requiredLength)) {
            String want = requiredLength >= 0 ? "an array of " + requiredLength + " integers" : "an array of integers";
            throw fail(file, where + " has no valid '" + key + "' in the header (expected " + want + ", got "
                    + node + "; the header is corrupt)");
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw fail(file, where + " has '" + key + "' " + node
                        + " with an element that is not a non-negative 64-bit integer (the header is corrupt)");
            }
            out[i] = v.longValue();
        }
        return out;
    }

    private static void checkContiguous(String file, List<HeaderEntry> sorted) {
        long expectedBegin = 0;
        HeaderEntry previous = null;
        for (HeaderEntry e : sorted) {
            if (e.begin() < expectedBegin) {
                throw fail(file, "tensor '" + e.name() + "' data_offsets [" + e.begin() + ", " + e.end()
                        + "] overlap tensor '" + previous.name() + "' [" + previous.begin() + ", " + previous.end()
                        + "] (the header is corrupt; re-export or download the file again)");
            }
            if (e.begin() > expectedBegin) {
                String after = previous == null ? "the start of the data region"
                        : "tensor '" + previous.name() + "' (which ends at " + previous.end() + ")";
                throw fail(file, "tensor '" + e.name() + "' starts at data offset " + e.begin() + ", leaving "
                        + (e.begin() - expectedBegin) + " unused bytes after " + after
                        + "; safetensors data must be contiguous (the header is corrupt; re-export the file)");
            }
            expectedBegin = e.end();
            previous = e;
        }
    }

    private void checkFileSize(String file, long fileSize) {
        long available = fileSize - dataStart();
        for (HeaderEntry e : entries) {
            if (e.end() > available) {
                throw fail(file, "tensor '" + e.name() + "' ends at byte " + (dataStart() + e.end())
                        + " but the file has " + fileSize + " bytes (the file is truncated; download it again)");
            }
        }
        if (dataLength() < available) {
            throw fail(file, "the tensors end at byte " + (dataStart() + dataLength()) + " but the file has "
                    + fileSize + " bytes (" + (available - dataLength()) + " unexpected trailing bytes; the file "
                    + "is corrupt or was written by a broken tool, download or export it again)");
        }
    }

    private static CheckpointException fail(String file, String message) {
        return new CheckpointException(file + ": " + message);
    }
}
