package io.shuttle.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.smallrye.mutiny.Multi;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * OpenAI's response shapes for one request: the whole document ({@code text_completion},
 * {@code chat.completion}) and the streamed chunks ({@code chat.completion.chunk}), with usage
 * and log-probabilities in the completions and chat formats.
 */
final class OpenAiResponses {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final OpenAiRequest req;
    private final String model;
    private final String id;
    private final long created = System.currentTimeMillis() / 1000;
    private int textOffset;

    OpenAiResponses(OpenAiRequest req, String model) {
        this.req = req;
        this.model = model;
        this.id = (req.chat() ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
    }

    static Map<String, Object> models(String name, int maxModelLen) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("id", name);
        m.put("object", "model");
        m.put("created", 0);
        m.put("owned_by", "shuttle");
        m.put("root", name);
        m.put("max_model_len", maxModelLen);
        return Map.of("object", "list", "data", List.of(m));
    }

    /** The whole answer of a non-streamed request. */
    String document(List<Generation.Delta> deltas, int promptTokens, int completionTokens) {
        StringBuilder text = new StringBuilder();
        List<Generation.TokenLogprob> lps = new ArrayList<>();
        String finish = null;
        for (Generation.Delta d : deltas) {
            text.append(d.text());
            lps.addAll(d.logprobs());
            if (d.finishReason() != null) {
                finish = d.finishReason();
            }
        }
        ObjectNode root = header(req.chat() ? "chat.completion" : "text_completion");
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        if (req.chat()) {
            ObjectNode message = choice.putObject("message");
            message.put("role", "assistant");
            message.put("content", text.toString());
        } else {
            choice.put("text", text.toString());
        }
        logprobs(choice, lps);
        choice.put("finish_reason", finish);
        usage(root, promptTokens, completionTokens);
        return write(root);
    }

    /** Chunks sent before any text: chat streams start by naming the assistant role. */
    Multi<String> streamStart() {
        if (!req.chat()) {
            return Multi.createFrom().empty();
        }
        ObjectNode root = header("chat.completion.chunk");
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode delta = choice.putObject("delta");
        delta.put("role", "assistant");
        delta.put("content", "");
        choice.putNull("logprobs");
        choice.putNull("finish_reason");
        return Multi.createFrom().item(write(root));
    }

    /** One streamed piece of text. */
    String chunk(Generation.Delta d) {
        ObjectNode root = header(req.chat() ? "chat.completion.chunk" : "text_completion");
        ObjectNode choice = root.putArray("choices").addObject();
        choice.put("index", 0);
        if (req.chat()) {
            ObjectNode delta = choice.putObject("delta");
            if (!d.text().isEmpty() || d.finishReason() == null) {
                delta.put("content", d.text());
            }
        } else {
            choice.put("text", d.text());
        }
        logprobs(choice, d.logprobs());
        choice.put("finish_reason", d.finishReason());
        if (req.includeUsage()) {
            root.putNull("usage");
        }
        return write(root);
    }

    /** Chunks after the last text: usage, when the client asked for it. */
    List<String> streamEnd(int promptTokens, int completionTokens) {
        if (!req.includeUsage()) {
            return List.of();
        }
        ObjectNode root = header(req.chat() ? "chat.completion.chunk" : "text_completion");
        root.putArray("choices");
        usage(root, promptTokens, completionTokens);
        return List.of(write(root));
    }

    static String errorJson(RuntimeException e) {
        ApiException a = e instanceof ApiException x ? x : ApiException.unavailable(e.getMessage());
        return write(JSON.valueToTree(ApiExceptionMappers.body(a.getMessage(), a.type(), a.param(), a.code())));
    }

    private ObjectNode header(String object) {
        ObjectNode root = JSON.createObjectNode();
        root.put("id", id);
        root.put("object", object);
        root.put("created", created);
        root.put("model", model);
        return root;
    }

    private void logprobs(ObjectNode choice, List<Generation.TokenLogprob> lps) {
        if (req.logprobs() < 0) {
            choice.putNull("logprobs");
            return;
        }
        ObjectNode out = choice.putObject("logprobs");
        if (req.chat()) {
            ArrayNode content = out.putArray("content");
            for (Generation.TokenLogprob t : lps) {
                ObjectNode e = chatEntry(content.addObject(), t);
                ArrayNode top = e.putArray("top_logprobs");
                for (Generation.TokenLogprob alt : t.top().subList(0, Math.min(req.logprobs(), t.top().size()))) {
                    chatEntry(top.addObject(), alt);
                }
            }
            return;
        }
        ArrayNode tokens = out.putArray("tokens");
        ArrayNode tokenLogprobs = out.putArray("token_logprobs");
        ArrayNode top = out.putArray("top_logprobs");
        ArrayNode offsets = out.putArray("text_offset");
        for (Generation.TokenLogprob t : lps) {
            tokens.add(t.token());
            tokenLogprobs.add(t.logprob());
            ObjectNode alts = top.addObject();
            for (Generation.TokenLogprob alt : t.top().subList(0, Math.min(req.logprobs(), t.top().size()))) {
                alts.put(alt.token(), alt.logprob());
            }
            offsets.add(textOffset);
            textOffset += t.token().length();
        }
    }

    private static ObjectNode chatEntry(ObjectNode e, Generation.TokenLogprob t) {
        e.put("token", t.token());
        e.put("logprob", t.logprob());
        ArrayNode bytes = e.putArray("bytes");
        for (byte b : t.token().getBytes(StandardCharsets.UTF_8)) {
            bytes.add(b & 0xff);
        }
        return e;
    }

    private static void usage(ObjectNode root, int promptTokens, int completionTokens) {
        ObjectNode u = root.putObject("usage");
        u.put("prompt_tokens", promptTokens);
        u.put("completion_tokens", completionTokens);
        u.put("total_tokens", promptTokens + completionTokens);
    }

    private static String write(Object node) {
        try {
            return JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a response", e);
        }
    }
}
