package io.shuttle.api;

import io.shuttle.engine.SamplingParams;
import io.shuttle.serve.AttentionPod;
import io.shuttle.tokenizer.ChatTemplate;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.vertx.core.buffer.Buffer;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.jboss.resteasy.reactive.RestMulti;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The OpenAI-compatible API of an attention pod: {@code GET /v1/models},
 * {@code POST /v1/completions}, {@code POST /v1/chat/completions}, each answering with one JSON
 * document or, with {@code "stream": true}, server-sent events in OpenAI's chunk format ending
 * with {@code data: [DONE]}. Request bodies are parsed by {@link OpenAiRequest} (every mistake a
 * 400 naming the field); output is shaped by {@link OpenAiResponses}.
 */
@Path("/v1")
public class OpenAiResource {
    /** A non-streaming request that takes longer than this is ended with a 504. */
    static final Duration REQUEST_TIMEOUT = Duration.ofMinutes(10);

    @Inject
    ServingRuntime runtime;

    private final Map<String, Optional<ChatTemplate>> templates = new ConcurrentHashMap<>();

    @GET
    @Path("/models")
    @Produces(MediaType.APPLICATION_JSON)
    public Map<String, Object> models() {
        AttentionPod pod = runtime.attention();
        return OpenAiResponses.models(pod.modelName(), pod.maxModelLen());
    }

    @POST
    @Path("/completions")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_OCTET_STREAM)
    @Blocking // tokenizing and rendering the chat template take CPU time: not on the event loop
    public RestMulti<Buffer> completions(byte[] body) {
        return generate(OpenAiRequest.completion(body));
    }

    @POST
    @Path("/chat/completions")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_OCTET_STREAM)
    @Blocking
    public RestMulti<Buffer> chatCompletions(byte[] body) {
        return generate(OpenAiRequest.chatCompletion(body));
    }

    private RestMulti<Buffer> generate(OpenAiRequest req) {
        AttentionPod pod = runtime.attention();
        if (req.model() != null && !req.model().equals(pod.modelName())) {
            throw ApiException.notFound("model", "the model '" + req.model() + "' does not exist; this server serves '"
                    + pod.modelName() + "' (GET /v1/models)", "model_not_found");
        }
        if (!pod.ready(ServingRuntime.READY_WITHIN)) {
            throw ApiException.unavailable("the expert pods are not answering (the last round failed, or none "
                    + "completed recently); retry later");
        }
        int[] prompt = promptIds(pod, req);
        int limit = pod.maxModelLen();
        if (prompt.length >= limit) {
            throw ApiException.invalid(req.chat() ? "messages" : "prompt", "this model's maximum context length is "
                    + limit + " tokens; the prompt has " + prompt.length + " tokens");
        }
        int maxTokens = req.maxTokens().orElse(limit - prompt.length);
        if (prompt.length + maxTokens > limit) {
            throw ApiException.invalid("max_tokens", "this model's maximum context length is " + limit
                    + " tokens, but " + (prompt.length + maxTokens) + " were requested (" + prompt.length
                    + " in the prompt, " + maxTokens + " to generate); reduce max_tokens or the prompt");
        }
        long seed = req.seed() != null ? req.seed() : java.util.concurrent.ThreadLocalRandom.current().nextLong();
        int topK = req.topK() < 0 ? 0 : req.topK();
        SamplingParams params = new SamplingParams(req.temperature(), req.topP(), topK, seed, maxTokens, req.ignoreEos());
        Generation g = new Generation(pod.loop(), pod.tokenizer(), prompt, params, req.stop(), req.logprobs(),
                runtime.metrics().generation(System.nanoTime(), prompt.length), REQUEST_TIMEOUT);
        OpenAiResponses shape = new OpenAiResponses(req, pod.modelName());
        Multi<Generation.Delta> deltas = g.start();
        if (req.stream()) {
            Multi<Buffer> events = Multi.createBy().concatenating().streams(
                    shape.streamStart().map(OpenAiResource::sse),
                    deltas.map(d -> sse(shape.chunk(d))),
                    Multi.createFrom().deferred(() -> Multi.createFrom().iterable(
                            shape.streamEnd(g.promptTokens(), g.completionTokens())).map(OpenAiResource::sse)))
                    // A failure after the 200 went out: one error event; [DONE] follows either way.
                    .onFailure().recoverWithItem(e -> sse(OpenAiResponses.errorJson(Generation.failure(asException(e)))))
                    .onCompletion().continueWith(Buffer.buffer("data: [DONE]\n\n"));
            return RestMulti.fromMultiData(events).status(200)
                    .header("Content-Type", "text/event-stream; charset=utf-8")
                    .header("Cache-Control", "no-cache").header("X-Accel-Buffering", "no").build();
        }
        Uni<Reply> reply = deltas.collect().asList()
                .ifNoItem().after(REQUEST_TIMEOUT.plusSeconds(5)).fail()
                .map(list -> new Reply(200, shape.document(list, g.promptTokens(), g.completionTokens())))
                .onFailure().recoverWithItem(e -> {
                    RuntimeException f = Generation.failure(asException(e));
                    int status = f instanceof ApiException a ? a.status() : 503;
                    return new Reply(status, OpenAiResponses.errorJson(f));
                });
        return RestMulti.fromUniResponse(reply, r -> Multi.createFrom().item(Buffer.buffer(r.json())),
                r -> Map.of("Content-Type", List.of("application/json")), Reply::status);
    }

    private record Reply(int status, String json) {
    }

    private static Exception asException(Throwable t) {
        if (t instanceof io.smallrye.mutiny.TimeoutException) {
            return new ApiException(504, "timeout", "the generation did not finish within " + REQUEST_TIMEOUT,
                    null, "timeout", null);
        }
        return t instanceof Exception e ? e : new RuntimeException(t);
    }

    private int[] promptIds(AttentionPod pod, OpenAiRequest req) {
        if (req.promptIds() != null) {
            int vocab = pod.tokenizer().vocabSize();
            for (int i = 0; i < req.promptIds().length; i++) {
                if (req.promptIds()[i] >= vocab) {
                    throw ApiException.invalid("prompt", "prompt[" + i + "] = " + req.promptIds()[i]
                            + " is not a token id of this model (vocabulary " + vocab + ")");
                }
            }
            return req.promptIds();
        }
        if (!req.chat()) {
            if (req.prompt().isEmpty()) {
                throw ApiException.invalid("prompt", "the prompt is empty");
            }
            return pod.tokenizer().encode(req.prompt(), true);
        }
        ChatTemplate template = templates.computeIfAbsent(pod.modelDir().toString(),
                k -> ChatTemplate.load(pod.modelDir())).orElseThrow(() -> ApiException.invalid("messages",
                "this model has no chat template in tokenizer_config.json; use /v1/completions"));
        String text;
        try {
            text = template.render(req.messages(), true);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid("messages", "the chat template rejected the conversation: " + e.getMessage());
        }
        // The template writes the BOS token itself (as transformers' apply_chat_template does).
        int[] ids = pod.tokenizer().encode(text, false);
        if (ids.length == 0) {
            throw ApiException.invalid("messages", "the conversation renders to an empty prompt");
        }
        return ids;
    }

    private static Buffer sse(String json) {
        return Buffer.buffer("data: " + json + "\n\n");
    }
}
