package io.shuttle.e2e;

import io.shuttle.engine.GenerationResult;
import io.shuttle.serve.LocalCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * One of two attention processes is killed (SIGKILL) and started again while the other keeps
 * running: the restarted one counts its steps from 0 while the other is far ahead, and both must
 * be back in lockstep and answering correctly within a bound, without restarting anything else.
 * (Before the expert pods paired each sender's newest round whatever its step, the two never
 * lined up again.)
 */
class AttentionRestartE2ETest {

    @TempDir
    Path tmp;

    @Test
    void aRestartedAttentionProcessRejoinsTheRunningDeployment() throws Exception {
        Path model = Fixtures.tinyModel(tmp.resolve("tiny"));
        int[] prompt = {1, 40, 41, 42, 43, 44};
        List<GenerationResult> expected = Fixtures.monolithic(model, List.of(prompt), 8);
        String body = Fixtures.request(List.of(prompt), 8);
        var spec = new LocalCluster.Spec(model, 2, 2, 2, "tcp", 1, false, null, 4);
        try (LocalCluster cluster = LocalCluster.start(spec, Duration.ofSeconds(90))) {
            for (int pod = 0; pod < 2; pod++) {
                assertTokens(expected, generateWithRetry(cluster, pod, body, Duration.ofSeconds(60)), "before, pod " + pod);
            }
            Thread.sleep(1500); // the idle pods tick on: pod 0's step count is far from 0 now

            cluster.restartAttention(1, Duration.ofSeconds(90));

            long t0 = System.nanoTime();
            for (int pod = 0; pod < 2; pod++) {
                assertTokens(expected, generateWithRetry(cluster, pod, body, Duration.ofSeconds(90)), "after, pod " + pod);
            }
            System.out.printf("both attention processes answered %.1f s after the restarted one was ready%n",
                    (System.nanoTime() - t0) / 1e9);
        }
    }

    private static void assertTokens(List<GenerationResult> expected, HttpResponse<String> r, String what) throws Exception {
        assertEquals(200, r.statusCode(), what + ": " + r.body());
        int[] ids = Fixtures.ids(Fixtures.JSON.readTree(r.body()).get("results").get(0).get("generated_ids"));
        assertArrayEquals(expected.get(0).generatedIds(), ids, what + ": the monolithic engine's tokens");
    }

    /** Requests fail (503) until the pods are back in step; retry within {@code budget}. */
    private static HttpResponse<String> generateWithRetry(LocalCluster cluster, int pod, String body, Duration budget)
            throws Exception {
        long deadline = System.nanoTime() + budget.toNanos();
        HttpResponse<String> r;
        do {
            r = cluster.generate(pod, body, Duration.ofSeconds(60));
            if (r.statusCode() == 200) {
                return r;
            }
            Thread.sleep(500);
        } while (System.nanoTime() < deadline);
        return r;
    }
}
