package io.shuttle.m2n.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

class HeaderCodecTest {
    private static final MessageHeader SAMPLE = new MessageHeader(MessageKind.COMBINE, 0x0102030405060708L, 9, 31, 1,
            5, 2, 1, new int[] {7, 3}, new float[] {1.0f, 0.5f}, PayloadType.BF16, 16);

    /**
     * The wire format is a contract with other builds and other languages: these bytes are
     * written out by hand from the layout in m2n/README.md, not produced by the codec.
     */
    private static final String GOLDEN = String.join("",
            "4d324e31", // magic "M2N1"
            "0100", // version 1
            "02", // kind COMBINE
            "01", // dtype BF16
            "0807060504030201", // deployment id
            "0900000000000000", // step 9
            "1f000000", // layer 31
            "01000000", // micro-batch 1
            "05000000", // sender 5
            "02000000", // rows 2
            "0100", // topK 1
            "0000", // flags
            "50000000", // header length 80
            "1000000000000000", // payload length 16
            "0000000000000000", // reserved
            "07000000", "03000000", // expert ids
            "0000803f", "0000003f"); // weights 1.0, 0.5

    @Test
    void encodesTheDocumentedBytes() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(SAMPLE.encodedLength());
            assertEquals(80, HeaderCodec.encode(SAMPLE, buf));
            assertEquals(GOLDEN, HexFormat.of().formatHex(buf.toArray(ValueLayout.JAVA_BYTE)));
        }
    }

    @Test
    void decodesTheDocumentedBytes() {
        MemorySegment golden = MemorySegment.ofArray(HexFormat.of().parseHex(GOLDEN));
        assertEquals(80, HeaderCodec.headerLength(golden));
        assertEquals(16, HeaderCodec.payloadLength(golden));
        assertEquals(SAMPLE, HeaderCodec.decode(golden));
    }

    @Test
    void zeroRowsHeaderIsJustTheFixedPart() {
        MessageHeader empty = new MessageHeader(MessageKind.DISPATCH, 1, 0, 0, 0, 0, 0, 2, new int[0], new float[0],
                PayloadType.F32, 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(empty.encodedLength());
            assertEquals(HeaderCodec.FIXED_LENGTH, HeaderCodec.encode(empty, buf));
            assertEquals(empty, HeaderCodec.decode(buf));
        }
    }

    @Test
    void rejectsBadMagicVersionLengthAndCodes() {
        byte[] golden = HexFormat.of().parseHex(GOLDEN);
        byte[] magic = golden.clone();
        magic[0] = 'X';
        assertTrue(assertThrows(WireFormatException.class, () -> HeaderCodec.decode(MemorySegment.ofArray(magic)))
                .getMessage().contains("magic"));
        byte[] version = golden.clone();
        version[4] = 2;
        assertTrue(assertThrows(WireFormatException.class, () -> HeaderCodec.decode(MemorySegment.ofArray(version)))
                .getMessage().contains("version 2"));
        byte[] length = golden.clone();
        length[44] = 0x58;
        assertThrows(WireFormatException.class, () -> HeaderCodec.decode(MemorySegment.ofArray(length)));
        byte[] dtype = golden.clone();
        dtype[7] = 99;
        assertTrue(assertThrows(WireFormatException.class, () -> HeaderCodec.decode(MemorySegment.ofArray(dtype)))
                .getMessage().contains("dtype code 99"));
        assertThrows(WireFormatException.class,
                () -> HeaderCodec.decode(MemorySegment.ofArray(java.util.Arrays.copyOf(golden, 70))));
    }

    @Test
    void headerChecksItsOwnInvariants() {
        assertThrows(WireFormatException.class, () -> new MessageHeader(MessageKind.DISPATCH, 1, 0, 0, 0, 0, 2, 1,
                new int[] {1}, new float[] {1}, PayloadType.U8, 2)); // 2 rows x top1 needs 2 ids
        assertThrows(WireFormatException.class, () -> new MessageHeader(MessageKind.DISPATCH, 1, 0, 0, 0, 0, 2, 0,
                new int[0], new float[0], PayloadType.F32, 12)); // 12 bytes is not 2 rows of F32
        assertThrows(WireFormatException.class, () -> new MessageHeader(MessageKind.DISPATCH, 1, 0, 0, 0, 0, 0, 0,
                new int[0], new float[0], PayloadType.U8, 4)); // payload without rows
    }
}
