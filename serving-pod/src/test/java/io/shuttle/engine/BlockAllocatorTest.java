package io.shuttle.engine;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlockAllocatorTest {

    @Test
    void growsAllOrNothingAndReleasesEverything() {
        BlockAllocator a = new BlockAllocator(4, 16);
        BlockTable t1 = new BlockTable();
        BlockTable t2 = new BlockTable();
        assertTrue(a.ensureCapacity(t1, 17));          // 2 blocks
        assertEquals(2, t1.size());
        assertTrue(a.ensureCapacity(t1, 32));          // still 2
        assertEquals(2, a.freeBlocks());
        assertFalse(a.ensureCapacity(t2, 48));         // needs 3, only 2 free: nothing taken
        assertEquals(0, t2.size());
        assertEquals(2, a.freeBlocks());
        assertTrue(a.ensureCapacity(t2, 20));
        assertNotEquals(t1.block(0), t2.block(0));
        a.release(t1);
        a.release(t2);
        assertEquals(4, a.freeBlocks());
        assertEquals(0, t1.size());
    }

    @Test
    void slotsFollowTheBlockTable() {
        BlockAllocator a = new BlockAllocator(8, 4);
        BlockTable other = new BlockTable();
        BlockTable t = new BlockTable();
        a.ensureCapacity(other, 4);
        a.ensureCapacity(t, 6);
        assertEquals(t.block(0) * 4 + 3, t.slot(3, 4));
        assertEquals(t.block(1) * 4 + 1, t.slot(5, 4));
    }
}
