package io.shuttle.m2n.wire;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Encodes and decodes {@link MessageHeader} (wire version 1, little-endian; layout in
 * {@code m2n/README.md}). The fixed part is {@value #FIXED_LENGTH} bytes; it carries the total
 * header length and the payload length, so a stream reader knows how much follows after reading
 * only the fixed part.
 */
public final class HeaderCodec {
    /** "M2N1" as bytes on the wire. */
    public static final int MAGIC = 0x314E324D;
    /** Wire version written by this codec; a different version is refused, not guessed at. */
    public static final int VERSION = 1;
    /** Size of the fixed part that precedes the per-row routing arrays. */
    public static final int FIXED_LENGTH = 64;

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final long OFF_VERSION = 4;
    private static final long OFF_KIND = 6;
    private static final long OFF_DTYPE = 7;
    private static final long OFF_DEPLOYMENT = 8;
    private static final long OFF_STEP = 16;
    private static final long OFF_LAYER = 24;
    private static final long OFF_MICRO_BATCH = 28;
    private static final long OFF_SENDER = 32;
    private static final long OFF_ROWS = 36;
    private static final long OFF_TOP_K = 40;
    private static final long OFF_FLAGS = 42;
    private static final long OFF_HEADER_LENGTH = 44;
    private static final long OFF_PAYLOAD_LENGTH = 48;
    private static final long OFF_RESERVED = 56;

    private HeaderCodec() {
    }

    /** Encoded length of a header with these dimensions. */
    public static int encodedLength(int rowCount, int topK) {
        long slots = (long) rowCount * topK;
        return Math.toIntExact(FIXED_LENGTH + slots * 8);
    }

    /** Writes {@code h} at the start of {@code dst}; returns the number of bytes written. */
    public static int encode(MessageHeader h, MemorySegment dst) {
        int length = h.encodedLength();
        if (dst.byteSize() < length) {
            throw new IllegalArgumentException("header needs " + length + " bytes, buffer has " + dst.byteSize());
        }
        dst.set(I32, 0, MAGIC);
        dst.set(I16, OFF_VERSION, (short) VERSION);
        dst.set(ValueLayout.JAVA_BYTE, OFF_KIND, (byte) h.kind().code());
        dst.set(ValueLayout.JAVA_BYTE, OFF_DTYPE, (byte) h.dtype().code());
        dst.set(I64, OFF_DEPLOYMENT, h.deploymentId());
        dst.set(I64, OFF_STEP, h.step());
        dst.set(I32, OFF_LAYER, h.layer());
        dst.set(I32, OFF_MICRO_BATCH, h.microBatch());
        dst.set(I32, OFF_SENDER, h.sender());
        dst.set(I32, OFF_ROWS, h.rowCount());
        dst.set(I16, OFF_TOP_K, (short) h.topK());
        dst.set(I16, OFF_FLAGS, (short) 0);
        dst.set(I32, OFF_HEADER_LENGTH, length);
        dst.set(I64, OFF_PAYLOAD_LENGTH, h.payloadLength());
        dst.set(I64, OFF_RESERVED, 0L);
        int[] ids = h.expertIds();
        float[] weights = h.weights();
        long idsAt = FIXED_LENGTH;
        long weightsAt = idsAt + 4L * ids.length;
        for (int i = 0; i < ids.length; i++) {
            dst.set(I32, idsAt + 4L * i, ids[i]);
            dst.set(F32, weightsAt + 4L * i, weights[i]);
        }
        return length;
    }

    /**
     * Reads the fixed part and returns the total header length it announces, after checking
     * magic and version. {@code fixed} must hold at least {@value #FIXED_LENGTH} bytes.
     */
    public static int headerLength(MemorySegment fixed) {
        checkMagicAndVersion(fixed);
        int length = fixed.get(I32, OFF_HEADER_LENGTH);
        int rows = fixed.get(I32, OFF_ROWS);
        int topK = Short.toUnsignedInt(fixed.get(I16, OFF_TOP_K));
        if (rows < 0 || rows > MessageHeader.MAX_ROWS || topK > MessageHeader.MAX_TOP_K
                || length != encodedLength(rows, topK)) {
            throw new WireFormatException("header length " + length + " does not match " + rows + " rows x topK "
                    + topK);
        }
        return length;
    }

    /** Payload length announced by the fixed part (after {@link #headerLength} validated it). */
    public static long payloadLength(MemorySegment fixed) {
        return fixed.get(I64, OFF_PAYLOAD_LENGTH);
    }

    /** Decodes a whole header; {@code src} must hold at least the announced header length. */
    public static MessageHeader decode(MemorySegment src) {
        if (src.byteSize() < FIXED_LENGTH) {
            throw new WireFormatException("header truncated: " + src.byteSize() + " bytes, fixed part is "
                    + FIXED_LENGTH);
        }
        int length = headerLength(src);
        if (src.byteSize() < length) {
            throw new WireFormatException("header truncated: " + src.byteSize() + " of " + length + " bytes");
        }
        int rows = src.get(I32, OFF_ROWS);
        int topK = Short.toUnsignedInt(src.get(I16, OFF_TOP_K));
        int slots = rows * topK;
        int[] ids = new int[slots];
        float[] weights = new float[slots];
        long idsAt = FIXED_LENGTH;
        long weightsAt = idsAt + 4L * slots;
        for (int i = 0; i < slots; i++) {
            ids[i] = src.get(I32, idsAt + 4L * i);
            weights[i] = src.get(F32, weightsAt + 4L * i);
        }
        return new MessageHeader(
                MessageKind.ofCode(src.get(ValueLayout.JAVA_BYTE, OFF_KIND)),
                src.get(I64, OFF_DEPLOYMENT),
                src.get(I64, OFF_STEP),
                src.get(I32, OFF_LAYER),
                src.get(I32, OFF_MICRO_BATCH),
                src.get(I32, OFF_SENDER),
                rows,
                topK,
                ids,
                weights,
                PayloadType.ofCode(src.get(ValueLayout.JAVA_BYTE, OFF_DTYPE)),
                src.get(I64, OFF_PAYLOAD_LENGTH));
    }

    /** True when the first four bytes are the message magic (used by stream readers). */
    public static boolean isMessageMagic(int firstWord) {
        return firstWord == MAGIC;
    }

    private static void checkMagicAndVersion(MemorySegment src) {
        int magic = src.get(I32, 0);
        if (magic != MAGIC) {
            throw new WireFormatException(String.format("bad magic 0x%08x, expected 0x%08x (\"M2N1\")", magic, MAGIC));
        }
        int version = Short.toUnsignedInt(src.get(I16, OFF_VERSION));
        if (version != VERSION) {
            throw new WireFormatException("wire version " + version + " is not supported (this build speaks "
                    + VERSION + ")");
        }
    }
}
