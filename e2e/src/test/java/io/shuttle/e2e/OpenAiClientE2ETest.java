package io.shuttle.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The official {@code openai} npm client (a client no one here wrote) against {@code shuttle
 * local}: models, completions, chat, streamed completions and chat, the client's own stream
 * accumulator, and a 400 reaching it as its typed error. {@code src/test/node/openai-check.mjs}
 * records what the client saw as JSON; the assertions are here. Greedy with {@code ignore_eos},
 * so the streamed text must equal the non-streamed text exactly.
 */
class OpenAiClientE2ETest {
    private static final int MAX_TOKENS = 16; // as in openai-check.mjs

    @Test
    void officialClientCompletionsChatAndStreaming() throws Exception {
        Path nodeDir = Path.of(System.getProperty("shuttle.repo", ".."), "e2e", "src", "test", "node").toAbsolutePath().normalize();
        String node = LocalLauncher.onPath("node");
        assumeTrue(node != null, "node is not on the PATH: install Node.js 18+ to run the openai client check");
        assumeTrue(Files.isDirectory(nodeDir.resolve("node_modules").resolve("openai")),
                "the openai npm client is not installed: run 'npm ci' in " + nodeDir + " (.ci/run does)");

        try (LocalLauncher cluster = LocalLauncher.start(Duration.ofSeconds(150))) {
            JsonNode seen = runScript(node, nodeDir, cluster);
            String why = "what the client saw: " + seen.toPrettyString() + "\nlauncher output:\n" + cluster.output();

            assertTrue(listContains(seen.path("models").path("ids"), cluster.model()), "models.list: " + why);

            JsonNode completion = noError(seen, "completion", why);
            assertEquals("text_completion", completion.path("object").asText(), why);
            assertEquals(cluster.model(), completion.path("model").asText(), why);
            assertEquals(1, completion.path("choices").asInt(), why);
            assertGreedyAnswer(completion, why);
            JsonNode completionStream = noError(seen, "completion_stream", why);
            assertStreamMatches(completion, completionStream, "completions", why);

            JsonNode chat = noError(seen, "chat", why);
            assertEquals("chat.completion", chat.path("object").asText(), why);
            assertEquals("assistant", chat.path("role").asText(), why);
            assertGreedyAnswer(chat, why);
            assertStreamMatches(chat, noError(seen, "chat_stream", why), "chat", why);
            JsonNode helper = noError(seen, "chat_stream_helper", why);
            assertEquals(chat.path("text").asText(), helper.path("text").asText(),
                    "the client's stream accumulator assembles the same text: " + why);
            assertEquals("length", helper.path("finish_reason").asText(), why);

            JsonNode bad = seen.path("bad_request").path("error");
            assertEquals("BadRequestError", bad.path("name").asText(), "max_tokens -5 reaches the client as a 400: " + why);
            assertEquals(400, bad.path("status").asInt(), why);
            assertTrue(bad.path("message").asText().contains("max_tokens"), "the message names the field: " + why);
            assertTrue(cluster.isAlive(), "the cluster still runs:\n" + cluster.output());
        }
    }

    /** A greedy, ignore_eos answer of MAX_TOKENS tokens: non-empty text, "length", consistent usage. */
    private static void assertGreedyAnswer(JsonNode answer, String why) {
        assertFalse(answer.path("text").asText().isEmpty(), "non-empty text: " + why);
        assertEquals("length", answer.path("finish_reason").asText(), "ignore_eos with max_tokens ends by length: " + why);
        JsonNode usage = answer.path("usage");
        assertEquals(MAX_TOKENS, usage.path("completion_tokens").asInt(-1), "usage.completion_tokens: " + why);
        assertTrue(usage.path("prompt_tokens").asInt(-1) > 0, "usage.prompt_tokens: " + why);
        assertEquals(usage.path("prompt_tokens").asInt() + usage.path("completion_tokens").asInt(),
                usage.path("total_tokens").asInt(-1), "usage.total_tokens: " + why);
    }

    private static void assertStreamMatches(JsonNode whole, JsonNode stream, String what, String why) {
        assertEquals(whole.path("text").asText(), stream.path("text").asText(),
                "streamed " + what + " text equals the non-streamed text of the same greedy request: " + why);
        assertEquals(List.of("length"), strings(stream.path("finish_reasons")),
                "exactly one chunk carries the finish reason: " + why);
        assertEquals(whole.path("usage"), stream.path("usage"), "stream_options.include_usage gives the same usage: " + why);
        assertEquals(1, stream.path("distinct_ids").asInt(), "every chunk carries the same id: " + why);
        assertTrue(stream.path("chunks").asInt() >= 2, "the answer arrived in pieces: " + why);
    }

    private static JsonNode noError(JsonNode seen, String field, String why) {
        JsonNode n = seen.path(field);
        if (n.isMissingNode() || n.has("error")) {
            fail("the openai client's " + field + " call failed: " + n + "\n" + why);
        }
        return n;
    }

    private static JsonNode runScript(String node, Path nodeDir, LocalLauncher cluster) throws Exception {
        Process p = new ProcessBuilder(node, "openai-check.mjs", cluster.baseUrl(), cluster.model())
                .directory(nodeDir.toFile()).redirectErrorStream(false).start();
        CompletableFuture<String> stdout = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
        CompletableFuture<String> stderr = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
        try {
            if (!p.waitFor(180, TimeUnit.SECONDS)) {
                fail("openai-check.mjs did not finish within 180 s; stderr: " + stderr.getNow("") + "\nlauncher output:\n"
                        + cluster.output());
            }
            String out = stdout.get(10, TimeUnit.SECONDS);
            assertEquals(0, p.exitValue(), "openai-check.mjs failed; stdout: " + out + "\nstderr: " + stderr.get(10, TimeUnit.SECONDS));
            return Fixtures.JSON.readTree(out);
        } finally {
            p.destroyForcibly();
        }
    }

    private static String readAll(InputStream in) {
        try (in) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            in.transferTo(b);
            return b.toString(StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "[could not read: " + e + "]";
        }
    }

    private static boolean listContains(JsonNode array, String value) {
        return strings(array).contains(value);
    }

    private static List<String> strings(JsonNode array) {
        return array.isArray() ? java.util.stream.StreamSupport.stream(array.spliterator(), false).map(JsonNode::asText).toList()
                : List.of();
    }
}
