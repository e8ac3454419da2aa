package io.shuttle.kernels;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Bf16Test {

    private static short bf16(int floatBits) {
        return Bf16.fromFloat(Float.intBitsToFloat(floatBits));
    }

    @Test
    void exactValuesAreKept() {
        assertEquals((short) 0x3F80, Bf16.fromFloat(1.0f));
        assertEquals((short) 0xC000, Bf16.fromFloat(-2.0f));
        assertEquals((short) 0x0000, Bf16.fromFloat(0.0f));
        assertEquals((short) 0x8000, Bf16.fromFloat(-0.0f));
        assertEquals((short) 0x7F80, Bf16.fromFloat(Float.POSITIVE_INFINITY));
    }

    @Test
    void roundsToNearest() {
        assertEquals((short) 0x3F80, bf16(0x3F807FFF)); // just below half: down
        assertEquals((short) 0x3F81, bf16(0x3F808001)); // just above half: up
        assertEquals((short) 0x3F81, bf16(0x3F80C000)); // three quarters: up
    }

    @Test
    void tiesGoToEven() {
        assertEquals((short) 0x3F80, bf16(0x3F808000)); // 0x3F80 is even: stays
        assertEquals((short) 0x3F82, bf16(0x3F818000)); // 0x3F81 is odd: up to 0x3F82
        assertEquals((short) 0xBF82, bf16(0xBF818000)); // sign does not matter
    }

    @Test
    void roundingCarriesIntoExponentAndOverflowsToInfinity() {
        assertEquals((short) 0x4000, bf16(0x3FFFC000)); // 1.99... rounds up to 2.0
        assertEquals((short) 0x7F80, bf16(0x7F7FFFFF)); // Float.MAX_VALUE rounds to +Inf
    }

    @Test
    void nanStaysNan() {
        assertTrue(Float.isNaN(Bf16.toFloat(Bf16.fromFloat(Float.NaN))));
        assertTrue(Float.isNaN(Bf16.toFloat(bf16(0x7F800001)))); // a payload that would round to Inf
    }

    @Test
    void toFloatWidensExactly() {
        assertEquals(1.0f, Bf16.toFloat((short) 0x3F80));
        assertEquals(-1.5f, Bf16.toFloat((short) 0xBFC0));
        assertEquals(Float.intBitsToFloat(0x3F810000), Bf16.toFloat((short) 0x3F81));
    }
}
