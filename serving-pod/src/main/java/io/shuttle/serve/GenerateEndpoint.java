package io.shuttle.serve;

import com.fasterxml.jackson.databind.JsonNode;
import io.shuttle.engine.EngineLoop;
import io.shuttle.engine.GenerationResult;
import io.shuttle.engine.SamplingParams;
import io.shuttle.engine.Scheduler;
import io.shuttle.tokenizer.Tokenizer;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@code POST /v1/shuttle/generate}: the batch form of {@code shuttle generate} on an attention
 * pod. Body: {@code {"prompts": [text | [ids]], "max_tokens": 16, "temperature": 0, "top_p": 1,
 * "top_k": 0, "seed": 0, "ignore_eos": false, "full_logits": false}}; answer: the
 * {@link GenerationJson} document. Prompts join the running batch (continuous batching).
 */
public final class GenerateEndpoint {
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    /** The answer: HTTP status and a JSON-serialisable body. */
    public record Reply(int status, Object body) {
    }

    private final EngineLoop loop;
    private final Tokenizer tokenizer;
    private final Duration timeout;

    public GenerateEndpoint(EngineLoop loop, Tokenizer tokenizer, Duration timeout) {
        this.loop = loop;
        this.tokenizer = tokenizer;
        this.timeout = timeout;
    }

    public Reply handle(byte[] body) throws IOException, InterruptedException {
        JsonNode req;
        try {
            req = JSON.readTree(body);
        } catch (IOException e) {
            throw new IllegalArgumentException("the body is not valid JSON: " + e.getMessage());
        }
        if (req == null || !req.path("prompts").isArray() || req.path("prompts").isEmpty()) {
            throw new IllegalArgumentException("give \"prompts\": a non-empty array of strings or token-id arrays");
        }
        SamplingParams base = new SamplingParams((float) req.path("temperature").asDouble(0),
                (float) req.path("top_p").asDouble(1), req.path("top_k").asInt(0), req.path("seed").asLong(0),
                req.path("max_tokens").asInt(16), req.path("ignore_eos").asBoolean(false));
        boolean full = req.path("full_logits").asBoolean(false);
        List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
        JsonNode prompts = req.get("prompts");
        List<int[]> ids = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            ids.add(promptIds(prompts.get(i), i)); // every prompt is checked before any runs
        }
        // One group: all prompts join the batch at the same step boundary ("all prompts run as one batch").
        List<SamplingParams> params = new ArrayList<>(ids.size());
        for (int i = 0; i < ids.size(); i++) {
            params.add(base.withSeed(base.seed() + i));
        }
        try {
            futures.addAll(loop.submitAll(ids, params, full));
        } catch (Scheduler.QueueFullException e) {
            return new Reply(429, error(e.getMessage()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage().replaceFirst("^request (\\d+) of \\d+:", "prompts[$1]:"), e);
        }
        List<GenerationResult> results = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        for (int i = 0; i < futures.size(); i++) {
            try {
                results.add(futures.get(i).get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
            } catch (ExecutionException e) {
                futures.forEach(f -> f.cancel(true));
                return new Reply(503, error("prompt " + i + " failed: " + e.getCause().getMessage()));
            } catch (TimeoutException e) {
                futures.forEach(f -> f.cancel(true));
                return new Reply(504, error("prompt " + i + " did not finish within " + timeout));
            }
        }
        return new Reply(200, GenerationJson.document(results, tokenizer, full));
    }

    private int[] promptIds(JsonNode item, int i) {
        if (item.isTextual()) {
            return tokenizer.encode(item.asText(), true);
        }
        if (item.isArray() && !item.isEmpty()) {
            int[] ids = new int[item.size()];
            for (int j = 0; j < ids.length; j++) {
                if (!item.get(j).canConvertToInt()) {
                    throw new IllegalArgumentException("prompts[" + i + "][" + j + "] is not an integer token id");
                }
                ids[j] = item.get(j).asInt();
            }
            return ids;
        }
        throw new IllegalArgumentException("prompts[" + i + "] must be a string or a non-empty array of token ids");
    }

    static java.util.Map<String, Object> error(String message) {
        return java.util.Map.of("error", java.util.Map.of("message", message == null ? "unknown error" : message));
    }
}
