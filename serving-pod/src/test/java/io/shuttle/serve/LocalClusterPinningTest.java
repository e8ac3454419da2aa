package io.shuttle.serve;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Asking for pinned processes without taskset is refused with the way out, never silently run unpinned. */
class LocalClusterPinningTest {

    @Test
    void pinningWithoutTasksetIsRefusedNamingTheFix() {
        Path missing = Path.of("/nonexistent/taskset");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> LocalCluster.checkPinning(true, missing));
        assertTrue(e.getMessage().contains("/nonexistent/taskset") && e.getMessage().contains("util-linux")
                && e.getMessage().contains("--no-pin") && e.getMessage().contains("--pin-cores"), e.getMessage());
        assertDoesNotThrow(() -> LocalCluster.checkPinning(false, missing), "unpinned needs no taskset");
    }
}
