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

    @Test
    void theSpinLimitCoversTheIdleSpinToo() {
        io.shuttle.m2n.NodeConfig none = withRetry(Duration.ZERO).nodeConfig(1, 0, new java.net.InetSocketAddress("127.0.0.1", 0));
        assertEquals(Duration.ZERO, none.spin(), "a pod's progress thread blocks at once by default");
        assertEquals(Duration.ZERO, none.activeSpin());
        io.shuttle.m2n.NodeConfig own = new PodSettings(PodSettings.Role.EXPERT, Path.of("model"), Path.of("plan.json"),
                0, SECRET, 0, "127.0.0.1", TransportKind.TCP, 1, null, -1).nodeConfig(1, 0, new java.net.InetSocketAddress("127.0.0.1", 0));
        io.shuttle.m2n.NodeConfig defaults = io.shuttle.m2n.NodeConfig.of(1, 0, SECRET);
        assertEquals(defaults.spin(), own.spin(), "-1 keeps M2N's own defaults");
        assertEquals(defaults.activeSpin(), own.activeSpin());
        io.shuttle.m2n.NodeConfig longer = new PodSettings(PodSettings.Role.EXPERT, Path.of("model"), Path.of("plan.json"),
                0, SECRET, 0, "127.0.0.1", TransportKind.TCP, 1, null, 5000).nodeConfig(1, 0, new java.net.InetSocketAddress("127.0.0.1", 0));
        assertEquals(defaults.spin(), longer.spin(), "a limit above the idle spin leaves it");
        assertEquals(Duration.ofMillis(5), longer.activeSpin());
    }
}
