package io.shuttle.serve;

import io.shuttle.m2n.TransportKind;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Settings a pod refuses before it loads anything, with a message naming the flag and its variable. */
class PodSettingsTest {
    private static final byte[] SECRET = "pod-settings-secret-01".getBytes(StandardCharsets.UTF_8);

    private static PodSettings withRetry(Duration retry) {
        return new PodSettings(PodSettings.Role.ATTENTION, Path.of("model"), Path.of("plan.json"), 0, SECRET, 0,
                "127.0.0.1", TransportKind.TCP, 1, null, 0, "m", "cpu", retry);
    }

    @Test
    void aNegativeExpertRetryIsRefusedNamingTheFlag() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> withRetry(Duration.ofSeconds(-1)));
        assertEquals("--expert-retry-seconds (SHUTTLE_EXPERT_RETRY_SECONDS) must be ≥ 0, got -1 s", e.getMessage());
        assertEquals(Duration.ZERO, withRetry(Duration.ZERO).expertRetry(), "0 ends the requests of a failed step at once");
        assertEquals(PodSettings.DEFAULT_EXPERT_RETRY, new PodSettings(PodSettings.Role.EXPERT, Path.of("model"),
                Path.of("plan.json"), 0, SECRET, 0, "127.0.0.1", TransportKind.TCP, 1, null, 0).expertRetry());
    }
}
