package io.shuttle.e2e;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code shuttle local} in serving mode leaves no process behind: on Ctrl-C (SIGTERM), when the
 * launcher itself is killed, and when one of its processes dies (then it stops the rest).
 */
class NoOrphansE2ETest {

    @TempDir
    Path tmp;
    private final List<ProcessHandle> started = new ArrayList<>();

    @AfterEach
    void killLeftovers() {
        started.forEach(ProcessHandle::destroyForcibly);
    }

    private static int freePort() throws java.io.IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Starts the launcher and waits (bounded) until it serves; returns it with its pods. */
    private Process launch(Path model) throws Exception {
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-jar", System.getProperty("shuttle.pod.jar"), "local", // what bin/shuttle runs
                "--model", model.toString(), "--attention", "1", "--experts", "2", "--transport", "tcp",
                "--max-tokens", "4", "--port", Integer.toString(freePort()));
        Process launcher = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        started.add(launcher.toHandle());
        BufferedReader out = new BufferedReader(new InputStreamReader(launcher.getInputStream(), StandardCharsets.UTF_8));
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        StringBuilder seen = new StringBuilder();
        String line;
        while ((line = out.readLine()) != null) {
            seen.append(line).append('\n');
            if (line.contains("Press Ctrl-C")) {
                break;
            }
            assertTrue(System.nanoTime() < deadline, "launcher not serving in time:\n" + seen);
        }
        assertTrue(seen.toString().contains("Press Ctrl-C"), "launcher ended early:\n" + seen);
        Thread drain = new Thread(() -> out.lines().forEach(l -> { }));
        drain.setDaemon(true);
        drain.start();
        launcher.toHandle().descendants().forEach(started::add);
        return launcher;
    }

    private static List<ProcessHandle> pods(Process launcher) {
        return launcher.toHandle().children().toList();
    }

    private static void assertAllGone(List<ProcessHandle> pods, String when) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        for (ProcessHandle p : pods) {
            while (p.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertTrue(!p.isAlive(), "process " + p.pid() + " still runs " + when);
        }
    }

    @Test
    void ctrlCStopsEveryProcess() throws Exception {
        Path model = Fixtures.tinyModel(tmp.resolve("tiny"));
        Process launcher = launch(model);
        List<ProcessHandle> pods = pods(launcher);
        assertEquals(3, pods.size(), "1 attention + 2 expert processes");
        launcher.destroy(); // SIGTERM, as Ctrl-C's SIGINT: the shutdown hook stops the cluster
        assertTrue(launcher.waitFor(30, TimeUnit.SECONDS));
        assertAllGone(pods, "after SIGTERM to the launcher");
    }

    @Test
    void killingTheLauncherLeavesNoOrphans() throws Exception {
        Path model = Fixtures.tinyModel(tmp.resolve("tiny"));
        Process launcher = launch(model);
        List<ProcessHandle> pods = pods(launcher);
        launcher.destroyForcibly(); // SIGKILL: no hook runs; each pod watches its parent
        assertAllGone(pods, "after SIGKILL to the launcher");
    }

    @Test
    void whenOneProcessDiesTheLauncherStopsTheRest() throws Exception {
        Path model = Fixtures.tinyModel(tmp.resolve("tiny"));
        Process launcher = launch(model);
        List<ProcessHandle> pods = pods(launcher);
        pods.get(pods.size() - 1).destroyForcibly();
        assertTrue(launcher.waitFor(30, TimeUnit.SECONDS), "the launcher noticed the death and stopped");
        assertEquals(1, launcher.exitValue());
        assertAllGone(pods, "after one of them died");
    }
}
