package io.shuttle.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 64 streaming clients for 30 s against {@code shuttle local} with small admission limits, so
 * the server is over capacity the whole time: every answer is a 200 stream that ends with
 * {@code [DONE]} or a 429 with {@code Retry-After} (which the clients honour), never a 5xx or a
 * hung request; the waiting queue stays within its bound; the attention process's resident
 * memory stays bounded; afterwards the server answers, is ready, and holds no request or KV
 * block. Prints the numbers for docs/BENCHMARKS.md.
 */
class ApiLoadE2ETest {
    private static final int CLIENTS = 64;
    /** 30 s in the build; {@code -Dshuttle.load.seconds=N} for a longer run when recording benchmarks. */
    private static final Duration LOAD = Duration.ofSeconds(Long.getLong("shuttle.load.seconds", 30));
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);
    private static final int MAX_RUNNING = 8;
    private static final int MAX_WAITING = 8;
    private static final int MAX_TOKENS = 48;
    private static final long MIB = 1024 * 1024;

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).executor(Executors.newVirtualThreadPerTaskExecutor()).build();

    /** Client-side tallies. */
    private static final class Tally {
        final LongAdder ok = new LongAdder();
        final LongAdder rejected = new LongAdder();
        final LongAdder tokens = new LongAdder();
        final LongAdder hung = new LongAdder();
        final Map<String, LongAdder> failures = new ConcurrentHashMap<>();

        void fail(String what) {
            failures.computeIfAbsent(what.length() > 300 ? what.substring(0, 300) : what, k -> new LongAdder()).increment();
        }
    }

    @Test
    void overCapacityStreamingStaysBoundedAndAnswers() throws Exception {
        try (LocalLauncher cluster = LocalLauncher.start(Duration.ofSeconds(150),
                "--max-running", Integer.toString(MAX_RUNNING), "--max-waiting", Integer.toString(MAX_WAITING))) {
            JvmProbe attention = new JvmProbe(cluster.attentionProcess().pid());
            JvmProbe.Heap liveBefore = attention.heap(true);
            long nonHeapBefore = attention.nonHeapRss();
            Tally tally = new Tally();
            List<long[]> rss = new ArrayList<>(); // {seconds since start, VmRSS bytes, bytes resident outside the heap}
            AtomicLong maxWaitingSeen = new AtomicLong();
            long start = System.nanoTime();
            long loadEnd = start + LOAD.toNanos();
            try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int c = 0; c < CLIENTS; c++) {
                    int client = c;
                    clients.submit(() -> runClient(cluster, client, loadEnd, tally));
                }
                // Sample the attention process's memory and queue once a second while the clients run.
                while (System.nanoTime() < loadEnd) {
                    rss.add(new long[] {(System.nanoTime() - start) / 1_000_000_000L, attention.rss(), attention.nonHeapRss()});
                    maxWaitingSeen.accumulateAndGet((long) metric(cluster, "shuttle_requests_waiting"), Math::max);
                    Thread.sleep(1000);
                }
                clients.shutdown();
                assertTrue(clients.awaitTermination(REQUEST_TIMEOUT.toSeconds() + 10, TimeUnit.SECONDS),
                        "every client finished its last request within its timeout");
            }
            double seconds = (System.nanoTime() - start) / 1e9;

            long baseline = rss.stream().filter(s -> s[0] < 5).mapToLong(s -> s[1]).max().orElseThrow();
            long maxAfter = rss.stream().filter(s -> s[0] >= 5).mapToLong(s -> s[1]).max().orElseThrow();
            long min = rss.stream().mapToLong(s -> s[1]).min().orElseThrow();
            System.out.printf("ApiLoadE2ETest: %d clients, %.1f s (load %d s), max-running %d, max-waiting %d, "
                            + "max_tokens %d: %d ok (200), %d rejected (429), %d failed, %d hung; %.1f generated tokens/s; "
                            + "attention RSS min %d MiB, first 5 s max %d MiB, later max %d MiB; waiting gauge max %d%n",
                    CLIENTS, seconds, LOAD.toSeconds(), MAX_RUNNING, MAX_WAITING, MAX_TOKENS, tally.ok.sum(),
                    tally.rejected.sum(), tally.failures.values().stream().mapToLong(LongAdder::sum).sum(), tally.hung.sum(),
                    tally.tokens.sum() / seconds, min / MIB, baseline / MIB, maxAfter / MIB, maxWaitingSeen.get());
            System.out.println("ApiLoadE2ETest: attention RSS / outside the heap, by second (MiB): "
                    + rss.stream().map(s -> s[0] + ":" + s[1] / MIB + "/" + s[2] / MIB).toList());

            assertEquals(Map.of(), Map.copyOf(tally.failures), "only 200 streams and 429 with Retry-After");
            assertEquals(0, tally.hung.sum(), "requests that did not finish within " + REQUEST_TIMEOUT);
            assertTrue(tally.ok.sum() >= CLIENTS, "the server kept serving under load: " + tally.ok.sum() + " answers");
            assertTrue(tally.rejected.sum() > 0, "over capacity (" + CLIENTS + " clients, " + MAX_RUNNING + " running + "
                    + MAX_WAITING + " waiting) some requests must be refused with 429");
            assertTrue(maxWaitingSeen.get() <= MAX_WAITING, "shuttle_requests_waiting reached " + maxWaitingSeen.get()
                    + ", above --max-waiting " + MAX_WAITING + ": the waiting queue is not bounded");
            // Afterwards: it answers, is ready, and nothing is left running or holding KV blocks.
            HttpResponse<String> after = LocalLauncher.postJson(http, cluster.baseUrl() + "/completions",
                    body(cluster.model(), 8, false).put("prompt", "still there?").toString());
            assertEquals(200, after.statusCode(), after.body());
            assertEquals(200, LocalLauncher.get(http, cluster.attentionUrl() + "/q/health/ready").statusCode());
            JsonNode health = awaitIdle(cluster);
            assertEquals(health.path("kv_blocks_total").asInt(), health.path("kv_blocks_free").asInt(),
                    "no KV block held after the load: " + health);

            // Memory. The resident size follows the JVM's heap sizing (the parallel collector grows
            // the young generation with the allocation rate, up to -Xmx), so it is checked against
            // that envelope; leaks are checked where they would show: the live heap after a full
            // GC, and the resident memory outside the heap's address range.
            JvmProbe.Heap liveAfter = attention.heap(true);
            long nonHeapAfter = attention.nonHeapRss();
            long maxHeap = attention.maxHeap();
            long maxRss = rss.stream().mapToLong(s -> s[1]).max().orElseThrow();
            System.out.printf("ApiLoadE2ETest: attention live heap after full GC %d MiB before, %d MiB after the load; "
                            + "resident outside the heap %d MiB before, %d MiB after; RSS max %d MiB (heap limit %d MiB)%n",
                    liveBefore.used() / MIB, liveAfter.used() / MIB, nonHeapBefore / MIB, nonHeapAfter / MIB, maxRss / MIB,
                    maxHeap / MIB);
            long requests = tally.ok.sum() + tally.rejected.sum();
            assertTrue(liveAfter.used() - liveBefore.used() < 32 * MIB, "the live heap grew from " + liveBefore.used() / MIB
                    + " MiB to " + liveAfter.used() / MIB + " MiB over " + requests + " requests: they leave objects behind");
            assertTrue(nonHeapAfter - nonHeapBefore < 128 * MIB, "resident memory outside the heap grew from "
                    + nonHeapBefore / MIB + " MiB to " + nonHeapAfter / MIB + " MiB (native or direct-buffer growth)");
            assertTrue(maxRss < maxHeap + 512 * MIB, "attention RSS reached " + maxRss / MIB + " MiB, beyond its heap limit "
                    + maxHeap / MIB + " MiB + 512 MiB; samples " + rss.stream().map(s -> s[0] + "s:" + s[1] / MIB).toList());
        }
    }

    /** One client: streaming requests back to back until the load ends; on 429 it waits Retry-After. */
    private void runClient(LocalLauncher cluster, int client, long loadEnd, Tally tally) {
        SplittableRandom random = new SplittableRandom(1000 + client);
        while (System.nanoTime() < loadEnd) {
            boolean chat = random.nextBoolean();
            ObjectNode b = body(cluster.model(), MAX_TOKENS, true);
            String text = "client " + client + " says " + "lorem ipsum dolor sit amet ".repeat(1 + random.nextInt(6));
            if (chat) {
                b.putArray("messages").addObject().put("role", "user").put("content", text);
            } else {
                b.put("prompt", text);
            }
            HttpRequest req = HttpRequest.newBuilder(URI.create(cluster.baseUrl() + (chat ? "/chat/completions" : "/completions")))
                    .timeout(REQUEST_TIMEOUT).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(b.toString())).build();
            HttpResponse<String> r;
            var exchange = http.sendAsync(req, HttpResponse.BodyHandlers.ofString());
            try {
                // The whole exchange, body included, is bounded (the request timeout covers only the headers).
                r = exchange.get(REQUEST_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                tally.hung.increment();
                exchange.cancel(true);
                continue;
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                tally.fail("client error: " + e);
                continue;
            }
            if (r.statusCode() == 429) {
                tally.rejected.increment();
                String retry = r.headers().firstValue("Retry-After").orElse(null);
                if (retry == null || !retry.matches("\\d+")) {
                    tally.fail("429 without a numeric Retry-After (" + retry + "): " + r.body());
                    continue;
                }
                if (!openAiError(r.body())) {
                    tally.fail("429 without an OpenAI error body: " + r.body());
                    continue;
                }
                sleepQuietly(Math.min(2000, Long.parseLong(retry) * 1000L));
            } else if (r.statusCode() == 200) {
                checkStream(r.body(), tally);
            } else {
                tally.fail(r.statusCode() + ": " + r.body());
            }
        }
    }

    /** A complete stream: data events, one finish reason, usage, then [DONE]; no error event. */
    private static void checkStream(String sse, Tally tally) {
        List<String> events = sse.lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
        if (events.isEmpty() || !events.getLast().equals("[DONE]")) {
            tally.fail("a 200 stream that does not end with [DONE]: ..." + sse.substring(Math.max(0, sse.length() - 200)));
            return;
        }
        int completionTokens = -1;
        for (String e : events.subList(0, events.size() - 1)) {
            try {
                JsonNode chunk = Fixtures.JSON.readTree(e);
                if (chunk.has("error")) {
                    tally.fail("an error event in a 200 stream: " + chunk.get("error"));
                    return;
                }
                if (chunk.hasNonNull("usage")) {
                    completionTokens = chunk.get("usage").path("completion_tokens").asInt();
                }
            } catch (IOException ex) {
                tally.fail("a data event that is not JSON: " + e);
                return;
            }
        }
        if (completionTokens != MAX_TOKENS) {
            tally.fail("usage.completion_tokens " + completionTokens + " instead of " + MAX_TOKENS + " (ignore_eos)");
            return;
        }
        tally.ok.increment();
        tally.tokens.add(completionTokens);
    }

    private static boolean openAiError(String body) {
        try {
            JsonNode error = Fixtures.JSON.readTree(body).path("error");
            return error.path("message").isTextual() && error.path("type").isTextual();
        } catch (IOException e) {
            return false;
        }
    }

    private static ObjectNode body(String model, int maxTokens, boolean stream) {
        ObjectNode b = Fixtures.JSON.createObjectNode().put("model", model).put("max_tokens", maxTokens)
                .put("temperature", 0).put("ignore_eos", true).put("stream", stream);
        if (stream) {
            b.putObject("stream_options").put("include_usage", true);
        }
        return b;
    }

    /** Waits (bounded) until the attention pod reports nothing running or waiting; returns its /health. */
    private JsonNode awaitIdle(LocalLauncher cluster) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        JsonNode health;
        do {
            health = Fixtures.JSON.readTree(LocalLauncher.get(http, cluster.attentionUrl() + "/health").body());
            if (metric(cluster, "shuttle_requests_running") == 0 && metric(cluster, "shuttle_requests_waiting") == 0
                    && health.path("kv_blocks_free").asInt() == health.path("kv_blocks_total").asInt()) {
                return health;
            }
            Thread.sleep(200);
        } while (System.nanoTime() < deadline);
        return health;
    }

    /** A sample without labels from the attention pod's /metrics. */
    private double metric(LocalLauncher cluster, String name) throws IOException, InterruptedException {
        HttpResponse<String> r = LocalLauncher.get(http, cluster.attentionUrl() + "/metrics");
        for (String line : r.body().split("\n")) {
            if (line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(name.length() + 1).trim());
            }
        }
        throw new IllegalStateException(name + " is missing from " + cluster.attentionUrl() + "/metrics");
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
